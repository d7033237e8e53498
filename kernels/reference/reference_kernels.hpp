// The scalar reference's single-row dot products for the types added with the K-quants
// (dot_k.cpp), used by the reference table (dot.cpp).
#pragma once

#include <cstddef>

namespace nibble::kernels::reference {

float dot_q5_0(const void* weights, const void* activations, size_t n);
float dot_q5_1(const void* weights, const void* activations, size_t n);
float dot_iq4_nl(const void* weights, const void* activations, size_t n);
float dot_q2_K(const void* weights, const void* activations, size_t n);
float dot_q3_K(const void* weights, const void* activations, size_t n);
float dot_q4_K(const void* weights, const void* activations, size_t n);
float dot_q5_K(const void* weights, const void* activations, size_t n);
float dot_q6_K(const void* weights, const void* activations, size_t n);
float dot_iq4_xs(const void* weights, const void* activations, size_t n);
float dot_bf16(const void* weights, const void* activations, size_t n);
void quantize_activations_q8_K(const float* x, void* out, size_t n);
void convert_activations_bf16(const float* x, void* out, size_t n);

}  // namespace nibble::kernels::reference
