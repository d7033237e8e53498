// Which matrices the model repacks at load, and that where they come from does not
// change the answer: a file mapping (repacked into new memory, pages given back), a file
// read into memory (repacked where it lies), and caller memory (left in the file layout).
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "bench/synthetic.hpp"
#include "kernels/kernels.hpp"
#include "nibble/nibble.hpp"
#include "test_support.hpp"

using namespace nibble;

namespace {

std::vector<float> prompt_logits(const Model& model) {
    SessionOptions options;
    options.context_length = 32;
    options.batch_size = 9;
    Session session(model, options);
    std::vector<Token> prompt(9);
    std::iota(prompt.begin(), prompt.end(), 5);
    const auto logits = session.eval(prompt, true);
    return {logits.begin(), logits.end()};
}

}  // namespace

TEST_CASE("matrices are packed wherever the model alone holds them", "[model][packing]") {
    test::TempDir dir;
    const size_t panel_rows = kernels::active_kernels().panel_rows;
    for (const TensorType type : {TensorType::q4_0, TensorType::q8_0}) {
        const std::string spec = "custom/e=128/l=2/h=4/kv=2/ff=384/v=640:" + tensor_type_name(static_cast<uint32_t>(type));
        INFO(spec);
        const std::string path = (dir.path / "model.gguf").string();
        bench::write_synthetic_model(bench::parse_synthetic_spec(spec), path);
        const Model mapped = Model::load(path);
        LoadOptions read_options;
        read_options.use_mmap = false;
        const Model read = Model::load(path, read_options);
        const std::vector<std::byte> bytes = test::read_file(path);
        const Model borrowed = Model::load_from_memory(bytes, path);

        // Every matrix of these shapes fits whole panels; the output matrix is separate.
        const uint64_t embedding = kernels::row_bytes(type, 128) * 640, norms = (2 * 2 + 1) * 128 * sizeof(float);
        const uint64_t matrices = mapped.info().weight_bytes - embedding - norms;
        CHECK(mapped.info().packed_bytes == (panel_rows > 0 ? matrices : 0));
        CHECK(read.info().packed_bytes == mapped.info().packed_bytes);
        CHECK(borrowed.info().packed_bytes == 0);
        CHECK(mapped.info().kernels == kernels::active_kernels().isa);

        const auto from_mapping = prompt_logits(mapped);
        CHECK((prompt_logits(read) == from_mapping));  // same panels, same kernels: bit for bit
        // The caller's bytes are untouched, and the file layout's kernels agree within the
        // format's tolerance (the sums run in another order).
        CHECK((test::read_file(path) == bytes));
        const auto cmp = test::compare_logits(prompt_logits(borrowed), from_mapping, test::Tolerance::quantized);
        INFO(cmp.describe());
        CHECK(cmp.ok);
    }
}
