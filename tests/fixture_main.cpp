// main() of the tests that read ../shared/fixtures: when the folder is absent they
// report "skipped" (exit 77, which ctest maps to skipped) unless CI=true, where a
// missing fixtures folder is a failure.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "test_support.hpp"

int main(int argc, char** argv) {
    bool listing = false;
    for (int i = 1; i < argc; ++i) listing |= std::string_view(argv[i]).starts_with("--list");
    if (!listing && !std::filesystem::is_directory(nibble::test::fixtures_dir())) {
        const char* ci = std::getenv("CI");
        const bool under_ci = ci != nullptr && std::string_view(ci) == "true";
        std::cerr << "fixtures not found at " << nibble::test::fixtures_dir()
                  << (under_ci ? ": failing (CI=true)\n" : ": skipping (set NIBBLE_FIXTURES_DIR)\n");
        return under_ci ? 1 : 77;
    }
    return Catch::Session().run(argc, argv);
}
