// LoadOptions::progress: rising fractions ending at 1, and cancelling with an Error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "nibble/nibble.hpp"

using namespace nibble;

namespace {
const std::string model_path = std::string(NIBBLE_SOURCE_DIR) + "/models/stories260K.gguf";
}

TEST_CASE("the load progress callback reports rising fractions and ends at 1", "[model][progress]") {
    for (const bool mmap : {true, false}) {
        INFO("use_mmap " << mmap);
        std::vector<float> seen;
        LoadOptions options;
        options.use_mmap = mmap;
        options.progress = [&](float f) {
            seen.push_back(f);
            return true;
        };
        const Model model = Model::load(model_path, options);
        CHECK(model.info().n_layer == 5);
        REQUIRE(seen.size() >= 4);
        CHECK(seen.front() == 0.0f);
        CHECK(seen.back() == 1.0f);
        for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] >= seen[i - 1]);
        // the bytes read in between are reported, not only the ends
        CHECK(std::count_if(seen.begin(), seen.end(), [](float f) { return f > 0.05f && f < 1.0f; }) >= 2);
    }
}

TEST_CASE("a progress callback returning false cancels the load with an Error", "[model][progress]") {
    for (const float stop_at : {0.0f, 0.3f, 1.0f}) {
        INFO("stop at " << stop_at);
        int calls_after_stop = 0;
        bool stopped = false;
        LoadOptions options;
        options.progress = [&](float f) {
            if (stopped) ++calls_after_stop;
            if (f >= stop_at) stopped = true;
            return !stopped;
        };
        try {
            (void)Model::load(model_path, options);
            FAIL("the load was not cancelled");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::cancelled);
            CHECK(std::string(e.what()).find("stories260K.gguf") != std::string::npos);
        }
        CHECK(calls_after_stop == 0);
    }
    CHECK(std::string(to_string(ErrorCode::cancelled)) == "cancelled");
}
