#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "kernels/prefetch.hpp"
#include "kernels/type_traits.hpp"
#include "nibble/error.hpp"

using namespace nibble;
using namespace nibble::kernels;

namespace {

// Every type nibble computes with, from the traits table.
std::vector<TensorType> computable_types() {
    std::vector<TensorType> out;
    for (const auto& t : type_traits) {
        if (t.activation) out.push_back(static_cast<TensorType>(t.id));
    }
    return out;
}
const std::vector<TensorType> all_types = computable_types();

size_t block_of(TensorType t) { return find_type_traits(t)->block_elements; }

std::vector<TensorType> packing_types() {
    std::vector<TensorType> out;
    for (TensorType t : all_types) {
        if (find_type_traits(t)->packs) out.push_back(t);
    }
    return out;
}

// A row length of about n that every type's blocks divide (K types: 256).
size_t round_to_block(TensorType t, size_t n) {
    const size_t b = std::max<size_t>(block_of(t), activation_format(t) == ActivationFormat::q8_K ? 256 : 1);
    return std::max(b, n / b * b);
}

std::vector<std::byte> convert(const KernelTable& k, TensorType t, const std::vector<float>& x) {
    std::vector<std::byte> act(activation_row_bytes(activation_format(t), x.size()));
    convert_activation_row(k, activation_format(t), x.data(), act.data(), x.size());
    return act;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

std::vector<std::byte> quantize(TensorType t, const std::vector<float>& x) {
    std::vector<std::byte> out(row_bytes(t, x.size()));
    quantize_row_reference(t, x.data(), out.data(), x.size());
    return out;
}

// The dot product computed the slow, obvious way: decode both sides to double.
double dot_by_definition(TensorType t, const std::vector<std::byte>& w, const std::vector<float>& x) {
    const size_t n = x.size();
    std::vector<float> wf(n), af(n);
    dequantize_row(t, w.data(), wf.data(), n);
    const ActivationFormat format = activation_format(t);
    const auto act = convert(reference_kernels(), t, x);
    switch (format) {
        case ActivationFormat::q8_0: dequantize_row(TensorType::q8_0, act.data(), af.data(), n); break;
        case ActivationFormat::f16: dequantize_row(TensorType::f16, act.data(), af.data(), n); break;
        case ActivationFormat::bf16: dequantize_row(TensorType::bf16, act.data(), af.data(), n); break;
        case ActivationFormat::q8_K: {
            const auto* blocks = reinterpret_cast<const BlockQ8_K*>(act.data());
            for (size_t i = 0; i < n; ++i) af[i] = blocks[i / 256].d * static_cast<float>(blocks[i / 256].qs[i % 256]);
            break;
        }
        case ActivationFormat::f32: af = x; break;
    }
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += static_cast<double>(wf[i]) * af[i];
    return sum;
}

}  // namespace

TEST_CASE("reference dot products equal the decoded dot product", "[kernels]") {
    std::mt19937 rng(11);
    const auto& k = reference_kernels();
    for (TensorType t : all_types) {
        for (size_t n0 : {32u, 64u, 96u, 512u, 4096u}) {
            const size_t n = round_to_block(t, n0);
            const auto w_f = random_floats(n, rng);
            const auto x = random_floats(n, rng, 2.0f);
            const auto w = quantize(t, w_f);
            const auto act = convert(k, t, x);
            const float got = type_kernels(k, t)->dot(w.data(), act.data(), n);
            const double want = dot_by_definition(t, w, x);
            INFO(tensor_type_name(static_cast<uint32_t>(t)) << " n=" << n);
            REQUIRE(std::fabs(got - want) <= 1e-5 * std::sqrt(static_cast<double>(n)) * (1 + std::fabs(want)));
        }
    }
}

TEST_CASE("activation quantization rounds half to even and keeps the scale in fp16", "[kernels]") {
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;  // d = 1 exactly
    x[1] = 2.5f;
    x[2] = -3.5f;
    x[3] = 0.5f;
    BlockQ8_0 b;
    reference_kernels().quantize_activations_q8_0(x.data(), &b, 32);
    CHECK(fp16_to_fp32(b.d) == 1.0f);
    CHECK(b.qs[0] == 127);
    CHECK(b.qs[1] == 2);
    CHECK(b.qs[2] == -4);
    CHECK(b.qs[3] == 0);
}

TEST_CASE("matmul gives the same result for every thread count and batch", "[kernels][isa]") {
    std::mt19937 rng(5);
    // Odd sizes: rows and tokens that leave partial tiles, float rows with a tail past
    // the last full vector.
    const size_t rows = 203, tokens = 7;
    for (const KernelTable* table : available_kernels()) {
        for (TensorType t : all_types) {
            const size_t cols = block_of(t) == 1 ? 101 : activation_format(t) == ActivationFormat::q8_K ? 768 : 160;
            INFO("isa " << table->isa << ", " << tensor_type_name(static_cast<uint32_t>(t)));
            std::vector<std::byte> w;
            std::vector<float> decoded(rows * cols);
            for (size_t r = 0; r < rows; ++r) {
                const auto row = quantize(t, random_floats(cols, rng));
                dequantize_row(t, row.data(), decoded.data() + r * cols, cols);
                w.insert(w.end(), row.begin(), row.end());
            }
            const MatrixView view{t, w.data(), rows, cols, row_bytes(t, cols)};
            const auto x = random_floats(cols * tokens, rng);
            std::vector<std::byte> scratch(matmul_scratch_bytes(t, cols, tokens));
            std::vector<float> y1(rows * tokens), y2(rows * tokens), y_single(rows), want(rows * tokens);
            matmul(reference_kernels(), view, x.data(), tokens, want.data(), scratch, 1);
            matmul(*table, view, x.data(), tokens, y1.data(), scratch, 1);
            matmul(*table, view, x.data(), tokens, y2.data(), scratch, 4);
            REQUIRE(y1 == y2);
            for (size_t tok = 0; tok < tokens; ++tok) {
                matmul(*table, view, x.data() + tok * cols, 1, y_single.data(), scratch, 2);
                for (size_t r = 0; r < rows; ++r) {
                    REQUIRE(y_single[r] == y1[tok * rows + r]);
                    // Against the scalar table: the same up to float summation order.
                    double magnitude = 0;
                    for (size_t i = 0; i < cols; ++i) magnitude += std::fabs(static_cast<double>(decoded[r * cols + i]) * x[tok * cols + i]);
                    REQUIRE(std::fabs(static_cast<double>(y1[tok * rows + r]) - want[tok * rows + r]) <= 1e-5 * magnitude + 1e-30);
                }
            }
        }
    }
}

TEST_CASE("the active table is one this CPU can run", "[kernels]") {
    CHECK(std::string(reference_kernels().isa) == "scalar");
    const auto tables = available_kernels();
    REQUIRE(tables.front() == &reference_kernels());
    bool found = false;
    for (const auto* t : tables) found |= t == &active_kernels();
    CHECK(found);
}

TEST_CASE("NIBBLE_STREAMS takes 1, 2 or 4 and names itself when it is anything else", "[kernels]") {
    const char* before = std::getenv("NIBBLE_STREAMS");
    const std::string saved = before ? before : "";
    const size_t streams = generation_streams();
    CHECK((streams == 1 || streams == 2 || streams == 4));
    for (const char* good : {"1", "2", "4", ""}) {
        ::setenv("NIBBLE_STREAMS", good, 1);
        CHECK_NOTHROW(check_read_settings());
    }
    for (const char* bad : {"0", "3", "8", "4 ", "-1", "two", "44"}) {
        INFO(bad);
        ::setenv("NIBBLE_STREAMS", bad, 1);
        try {
            find_kernels("scalar", "NIBBLE_ISA=");
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::invalid_argument);
            CHECK_THAT(e.what(), Catch::Contains(std::string("NIBBLE_STREAMS=") + bad) && Catch::Contains("1, 2 or 4"));
        }
    }
    if (before) ::setenv("NIBBLE_STREAMS", saved.c_str(), 1);
    else ::unsetenv("NIBBLE_STREAMS");
}

TEST_CASE("NIBBLE_PREFETCH takes one or two byte counts and names itself when it is anything else", "[kernels]") {
    const char* before = std::getenv("NIBBLE_PREFETCH");
    const std::string saved = before ? before : "";
    CHECK(prefetch_distances().l1 <= (size_t{1} << 20));
    CHECK(prefetch_distances().l2 <= (size_t{1} << 20));
    for (const char* good : {"0", "4096", "1048576", "2048,6144", "0,0", "0,8192", "1048576,1048576"}) {
        ::setenv("NIBBLE_PREFETCH", good, 1);
        CHECK_NOTHROW(check_read_settings());
        CHECK_NOTHROW(find_kernels("scalar", "NIBBLE_ISA="));
    }
    for (const char* bad : {"4k", "-1", "1048577", "99999999999999999999999", " 64", "1,", ",1", "1,2,3", "1,1048577", "1, 2"}) {
        INFO(bad);
        ::setenv("NIBBLE_PREFETCH", bad, 1);
        try {
            find_kernels("scalar", "NIBBLE_ISA=");
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::invalid_argument);
            CHECK_THAT(e.what(), Catch::Contains(std::string("NIBBLE_PREFETCH=") + bad) && Catch::Contains("byte count"));
        }
    }
    if (before) ::setenv("NIBBLE_PREFETCH", saved.c_str(), 1); else ::unsetenv("NIBBLE_PREFETCH");
}

namespace {

float dot_with(const KernelTable& k, TensorType t, const void* w, const void* a, size_t n) {
    return type_kernels(k, t)->dot(w, a, n);
}

// Inputs that stress the kernels: random, all zero, huge and tiny scales, one outlier.
std::vector<float> test_vector(size_t n, int kind, std::mt19937& rng) {
    auto v = random_floats(n, rng);
    for (size_t i = 0; i < n; ++i) {
        if (kind == 1 && ((i / 32) % 2 == 0 || i < 256)) v[i] = 0.0f;  // every other block and the first super-block zero
        if (kind == 2) v[i] *= 1e3f;
        if (kind == 3) v[i] *= 1e-6f;
    }
    if (kind == 4) v[n / 2] = 100.0f;
    return v;
}

}  // namespace

TEST_CASE("every ISA table matches the scalar reference", "[kernels][isa]") {
    std::mt19937 rng(21);
    const KernelTable& ref = reference_kernels();
    for (const KernelTable* table : available_kernels()) {
        if (table == &ref) continue;
        INFO("isa " << table->isa);
        for (size_t n : {32u, 96u, 160u, 256u, 768u, 4096u, 11008u}) {
            for (int kind = 0; kind < 5; ++kind) {
                INFO("n " << n << " kind " << kind);
                const auto x = test_vector(n, kind, rng);
                // activation conversion: the same bytes
                std::vector<std::byte> q_ref(activation_row_bytes(ActivationFormat::q8_0, n)), q_isa(q_ref.size());
                ref.quantize_activations_q8_0(x.data(), q_ref.data(), n);
                table->quantize_activations_q8_0(x.data(), q_isa.data(), n);
                REQUIRE(q_isa == q_ref);
                std::vector<std::byte> h_ref(n * 2), h_isa(n * 2);
                ref.convert_activations_f16(x.data(), h_ref.data(), n);
                table->convert_activations_f16(x.data(), h_isa.data(), n);
                REQUIRE(h_isa == h_ref);
                std::vector<std::byte> b_ref(n * 2), b_isa(n * 2);
                ref.convert_activations_bf16(x.data(), b_ref.data(), n);
                table->convert_activations_bf16(x.data(), b_isa.data(), n);
                REQUIRE(b_isa == b_ref);
                std::vector<std::byte> k_ref(activation_row_bytes(ActivationFormat::q8_K, n)), k_isa(k_ref.size());
                if (n % 256 == 0) {
                    ref.quantize_activations_q8_K(x.data(), k_ref.data(), n);
                    table->quantize_activations_q8_K(x.data(), k_isa.data(), n);
                    REQUIRE(k_isa == k_ref);
                }
                // dot products: the same up to float summation order
                for (TensorType t : all_types) {
                    if (n % block_of(t) != 0 || (activation_format(t) == ActivationFormat::q8_K && n % 256 != 0)) continue;
                    const auto w_floats = test_vector(n, (kind + 1) % 5, rng);
                    const auto w = quantize(t, w_floats);
                    const ActivationFormat f = activation_format(t);
                    const void* act = f == ActivationFormat::q8_0 ? static_cast<const void*>(q_ref.data())
                                      : f == ActivationFormat::f16 ? static_cast<const void*>(h_ref.data())
                                      : f == ActivationFormat::bf16 ? static_cast<const void*>(b_ref.data())
                                      : f == ActivationFormat::q8_K ? static_cast<const void*>(k_ref.data())
                                                                    : static_cast<const void*>(x.data());
                    const float want = dot_with(ref, t, w.data(), act, n);
                    const float got = dot_with(*table, t, w.data(), act, n);
                    std::vector<float> wd(n);
                    dequantize_row(t, w.data(), wd.data(), n);
                    double magnitude = 0;
                    for (size_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * x[i]);
                    INFO(tensor_type_name(static_cast<uint32_t>(t)) << " want " << want << " got " << got);
                    REQUIRE(std::fabs(static_cast<double>(got) - want) <= 1e-5 * magnitude + 1e-30);
                }
            }
        }
    }
}

TEST_CASE("packing into panels keeps every byte of every row", "[kernels][packed]") {
    std::mt19937 rng(5);
    for (TensorType t : packing_types()) {
        for (size_t R : {4u, 8u, 16u}) {
            const size_t rows = 2 * R, cols = round_to_block(t, 96);
            std::vector<std::byte> w;
            for (size_t r = 0; r < rows; ++r) {
                const auto row = quantize(t, random_floats(cols, rng));
                w.insert(w.end(), row.begin(), row.end());
            }
            const size_t stride = row_bytes(t, cols);
            REQUIRE(packable(t, rows, cols, R));
            REQUIRE_FALSE(packable(t, rows + 1, cols, R));
            std::vector<std::byte> packed(w.size());
            pack_panels(t, R, w.data(), stride, rows, cols, packed.data());
            CHECK(packed != w);
            for (size_t r = 0; r < rows; ++r) {
                std::vector<std::byte> back(stride);
                unpack_panel_row(t, R, packed.data(), r, cols, back.data());
                INFO(tensor_type_name(static_cast<uint32_t>(t)) << " R " << R << " row " << r);
                REQUIRE(std::memcmp(back.data(), w.data() + r * stride, stride) == 0);
            }
        }
    }
}

TEST_CASE("packed matrix kernels of every ISA match the scalar reference", "[kernels][packed][isa]") {
    std::mt19937 rng(17);
    bool any = false;
    for (const KernelTable* table : available_kernels()) {
        if (table->panel_rows == 0) continue;
        const size_t R = table->panel_rows;
        for (TensorType t : packing_types()) {
            if (packed_mul(*table, t) == nullptr) continue;
            any = true;
            for (size_t cols0 : {32u, 160u, 768u, 2048u}) {
                const size_t cols = round_to_block(t, cols0);
                for (size_t tokens : {1u, 2u, 3u, 5u, 8u, 9u, 17u}) {
                    // One token: 9 panels, so 4 read streams (NIBBLE_STREAMS) walk 2 each and leave one.
                    const size_t rows = (tokens == 1 ? 9 : 3) * R;
                    std::vector<std::byte> w;
                    std::vector<float> w_floats;
                    for (size_t r = 0; r < rows; ++r) {
                        auto row_floats = test_vector(cols, static_cast<int>(r % 5), rng);
                        const auto row = quantize(t, row_floats);
                        w.insert(w.end(), row.begin(), row.end());
                    }
                    const size_t stride = row_bytes(t, cols);
                    std::vector<std::byte> packed(w.size());
                    pack_panels(t, R, w.data(), stride, rows, cols, packed.data());
                    std::vector<float> x;
                    for (size_t k = 0; k < tokens; ++k) {
                        const auto v = test_vector(cols, static_cast<int>((k + 2) % 5), rng);
                        x.insert(x.end(), v.begin(), v.end());
                    }
                    const MatrixView plain{t, w.data(), rows, cols, stride, 0};
                    const MatrixView panels{t, packed.data(), rows, cols, stride, R};
                    std::vector<std::byte> scratch(matmul_scratch_bytes(t, cols, tokens));
                    std::vector<float> want(rows * tokens), got(rows * tokens);
                    matmul(reference_kernels(), plain, x.data(), tokens, want.data(), scratch, 1);
                    matmul(*table, panels, x.data(), tokens, got.data(), scratch, 2);
                    if (activation_format(t) == ActivationFormat::q8_K) {
                        // The K types' panels and file layout take the same sums: bit for bit.
                        std::vector<float> same(rows * tokens);
                        matmul(*table, plain, x.data(), tokens, same.data(), scratch, 2);
                        REQUIRE(same == got);
                    }
                    for (size_t k = 0; k < tokens; ++k) {
                        for (size_t r = 0; r < rows; ++r) {
                            std::vector<float> wd(cols);
                            dequantize_row(t, w.data() + r * stride, wd.data(), cols);
                            double magnitude = 0;
                            for (size_t i = 0; i < cols; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * x[k * cols + i]);
                            const float a = want[k * rows + r], b = got[k * rows + r];
                            INFO(table->isa << " " << tensor_type_name(static_cast<uint32_t>(t)) << " cols " << cols << " tokens "
                                            << tokens << " row " << r << " token " << k << " want " << a << " got " << b);
                            REQUIRE(std::fabs(static_cast<double>(b) - a) <= 1e-5 * magnitude + 1e-30);
                        }
                    }
                }
            }
        }
    }
    if (!any) WARN("no table with a packed layout on this CPU");
}

TEST_CASE("the packed-layout tables pack what they can multiply", "[kernels][packed]") {
    for (const KernelTable* table : available_kernels()) {
        INFO(table->isa);
        if (table->panel_rows == 0) {
            CHECK(packed_mul(*table, TensorType::q4_0) == nullptr);
        } else {
            CHECK(packed_mul(*table, TensorType::q4_0) != nullptr);
            CHECK(packed_mul(*table, TensorType::f32) == nullptr);
        }
    }
}

TEST_CASE("every kernel table has every type the traits call computable", "[kernels]") {
    for (const KernelTable* table : available_kernels()) {
        for (TensorType t : all_types) {
            INFO(table->isa << " " << tensor_type_name(static_cast<uint32_t>(t)));
            const TypeKernels* entry = type_kernels(*table, t);
            REQUIRE(entry != nullptr);
            CHECK(entry->dot != nullptr);
            CHECK(entry->mul != nullptr);
            CHECK((entry->mul_packed != nullptr) == (table->panel_rows > 0 && find_type_traits(t)->packs));
        }
    }
    for (uint32_t id : {5u, 16u, 19u, 29u, 34u, 39u}) {
        CHECK(tensor_type_info(id).has_value());
        CHECK_FALSE(tensor_type_info(id)->computable);
    }
    CHECK_THROWS_WITH(activation_format(static_cast<TensorType>(16)), Catch::Contains("iq2_xxs") && Catch::Contains("q4_K"));
}
