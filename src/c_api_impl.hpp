// What the C API's files share: the handles (C++ objects behind the opaque C types),
// the guard every entry point runs its body in, and the argument and buffer checks.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include "nibble/nibble.h"
#include "nibble/nibble.hpp"

struct nibble_model {
    nibble::Model model;
    std::string tokenizer_kind;  // a NUL-terminated copy for nibble_model_info
};

struct nibble_session {
    explicit nibble_session(nibble::Session s) : session(std::move(s)) {}
    nibble::Session session;
};

namespace nibble::c_api {

/// Stores the calling thread's message (never throws: without memory for the text, a
/// fixed one) and returns `status`.
nibble_status record_failure(nibble_status status, std::string_view text, std::string_view more = {},
                             std::string_view rest = {}) noexcept;

/// Runs `body`, turning whatever it throws into a status and this thread's message.
/// nibble::Error keeps its code and message; allocation failures are out_of_range, as
/// in the C++ API; anything else (a callback's exception, say) is invalid_argument.
template <class Body>
nibble_status guarded(const char* function, Body&& body) noexcept {
    try {
        body();
        return NIBBLE_OK;
    } catch (const Error& e) {
        const int code = static_cast<int>(e.code());
        const bool known = code >= NIBBLE_IO && code <= NIBBLE_CANCELLED;
        return record_failure(known ? static_cast<nibble_status>(code) : NIBBLE_INVALID_ARGUMENT, e.what());
    } catch (const std::bad_alloc&) {
        return record_failure(NIBBLE_OUT_OF_RANGE, function, ": out of memory");
    } catch (const std::exception& e) {
        return record_failure(NIBBLE_INVALID_ARGUMENT, function, ": unexpected exception: ", e.what());
    } catch (...) {
        return record_failure(NIBBLE_INVALID_ARGUMENT, function, ": an exception that is not a std::exception");
    }
}

[[noreturn]] inline void invalid(const char* function, std::string_view what) {
    throw Error(ErrorCode::invalid_argument, fmt::format("{}: {}", function, what));
}

/// Refuses a NULL pointer argument, by name.
template <class T>
T& require(T* pointer, const char* function, const char* name) {
    if (pointer == nullptr) invalid(function, fmt::format("{} is NULL", name));
    return *pointer;
}

/// A (pointer, count) input: NULL only when count is 0.
template <class T>
std::span<const T> input_span(const T* data, size_t count, const char* function, const char* name) {
    if (data == nullptr && count != 0) invalid(function, fmt::format("{} is NULL but its length is {}", name, count));
    return data == nullptr ? std::span<const T>() : std::span<const T>(data, count);
}

inline std::string_view input_text(const char* text, size_t length, const char* function, const char* name) {
    const auto bytes = input_span(text, length, function, name);
    return {bytes.data(), bytes.size()};
}

/// The buffer convention: *count = the size needed; out_of_range (nothing written) when
/// `capacity` is smaller, else the elements copied.
template <class T>
void copy_out(std::span<const T> values, T* buffer, size_t capacity, size_t* count, const char* function,
              const char* unit) {
    require(count, function, "the count pointer");
    *count = values.size();
    if (capacity < values.size()) {
        throw Error(ErrorCode::out_of_range, fmt::format("{}: the buffer holds {} {}, {} needed", function, capacity, unit,
                                                         values.size()));
    }
    if (buffer == nullptr && !values.empty()) invalid(function, "the buffer is NULL");
    std::copy(values.begin(), values.end(), buffer);
}

/// Text into a NUL-terminated buffer: *length = its bytes; the buffer needs one more.
inline void copy_text(std::string_view text, char* buffer, size_t capacity, size_t* length, const char* function) {
    require(length, function, "the length pointer");
    *length = text.size();
    if (capacity <= text.size()) {
        throw Error(ErrorCode::out_of_range, fmt::format("{}: the buffer holds {} bytes, {} needed (the text and its NUL)",
                                                         function, capacity, text.size() + 1));
    }
    if (buffer == nullptr) invalid(function, "the buffer is NULL");
    std::copy(text.begin(), text.end(), buffer);
    buffer[text.size()] = '\0';
}

}  // namespace nibble::c_api
