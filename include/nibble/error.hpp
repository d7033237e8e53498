// nibble::Error: the one exception type the library throws.
#pragma once

#include <stdexcept>
#include <string>

#include "nibble/export.hpp"

namespace nibble {

/// What kind of failure an Error reports. Stable numbers: the C API exposes them.
enum class ErrorCode : int {
    io = 1,              ///< a file could not be opened, mapped or read
    bad_format = 2,      ///< the bytes do not form a valid file of the claimed format
    unsupported = 3,     ///< valid, but uses something nibble does not implement
    bad_model = 4,       ///< the tensors or hyperparameters do not form a usable model
    invalid_argument = 5,///< the caller passed a value outside the documented range
    out_of_range = 6,    ///< a context or buffer limit was exceeded
    cancelled = 7,       ///< a callback asked to stop (LoadOptions::progress returned false)
};

/// Human-readable name of an error code ("bad_format", ...).
NIBBLE_API const char* to_string(ErrorCode code) noexcept;

/// Thrown by every nibble function that can fail. The message names the file, the
/// offset or tensor, and what was expected.
class NIBBLE_API Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
};

}  // namespace nibble
