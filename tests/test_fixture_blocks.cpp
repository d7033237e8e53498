// Known-answer vectors from the original ggjt v3 era code (2d5db483): our reference
// quantizer must write the same bytes and our dequantizer the same floats, bit for bit.
#include <catch2/catch.hpp>

#include <cstring>

#include "kernels/kernels.hpp"
#include "test_support.hpp"

using namespace nibble;
using namespace nibble::test;

namespace {

void check_vectors(const std::string& file, TensorType type) {
    const std::string json = read_text(fixture("legacy/blocks/" + file));
    const auto inputs = json_string_array(json, "inputs_f32_hex");
    const auto blocks = json_string_array(json, "bytes_hex");
    const auto outputs = json_string_array(json, "dequantized_f32_hex");
    const auto names = json_string_array(json, "input_names");
    REQUIRE(inputs.size() == 8);
    REQUIRE(blocks.size() == 8);
    REQUIRE(outputs.size() == 8);
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO(file << ": input " << names[i]);
        const auto in_bytes = from_hex(inputs[i]);
        std::vector<float> x(in_bytes.size() / 4);
        std::memcpy(x.data(), in_bytes.data(), in_bytes.size());
        std::vector<std::byte> quantized(kernels::row_bytes(type, x.size()));
        kernels::quantize_row_reference(type, x.data(), quantized.data(), x.size());
        CHECK(quantized == from_hex(blocks[i]));

        const auto expected_bytes = from_hex(outputs[i]);
        const auto reference_blocks = from_hex(blocks[i]);
        std::vector<float> y(x.size());
        kernels::dequantize_row(type, reference_blocks.data(), y.data(), y.size());
        std::vector<std::byte> y_bytes(y.size() * 4);
        std::memcpy(y_bytes.data(), y.data(), y_bytes.size());
        CHECK(y_bytes == expected_bytes);
    }
}

}  // namespace

TEST_CASE("q4_0 matches the ggjt v3 era known-answer vectors bit for bit", "[fixtures][quant]") {
    check_vectors("2d5db483_q4_0.json", TensorType::q4_0);
}

TEST_CASE("q8_0 matches the ggjt v3 era known-answer vectors bit for bit", "[fixtures][quant]") {
    check_vectors("2d5db483_q8_0.json", TensorType::q8_0);
}
