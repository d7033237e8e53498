// For tests/c_api_test.c: what the C++ API says about a file, so that the C test can
// require the C API to give the same status and the same message.
#include <cstdio>

#include "nibble/nibble.hpp"

extern "C" int nibble_test_cpp_load_error(const char* path, char* message, size_t capacity) {
    try {
        nibble::Model::load(path);
        return 0;
    } catch (const nibble::Error& e) {
        std::snprintf(message, capacity, "%s", e.what());
        return static_cast<int>(e.code());
    }
}
