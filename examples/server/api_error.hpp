// An HTTP error answered as an OpenAI error object:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace nibble::server {

struct ApiError : std::runtime_error {
    int status;
    std::string type;
    std::string param;  ///< the request field at fault, "" for none
    std::string code;   ///< a machine-readable reason ("context_length_exceeded"), "" for none
    int retry_after = 0;  ///< seconds, sent as Retry-After when > 0

    ApiError(int status_, std::string type_, const std::string& message, std::string param_ = {}, std::string code_ = {})
        : std::runtime_error(message), status(status_), type(std::move(type_)), param(std::move(param_)), code(std::move(code_)) {}

    nlohmann::json body() const {
        nlohmann::json error = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
        if (!param.empty()) error["param"] = param;
        if (!code.empty()) error["code"] = code;
        return {{"error", std::move(error)}};
    }
};

/// 400: the request itself is wrong (`param` names the field).
inline ApiError invalid_request(const std::string& message, std::string param = {}, std::string code = {}) {
    return ApiError(400, "invalid_request_error", message, std::move(param), std::move(code));
}

/// 503 with Retry-After: come back later.
inline ApiError unavailable(const std::string& message, std::string code = {}) {
    ApiError e(503, "server_error", message, {}, std::move(code));
    e.retry_after = 1;
    return e;
}

}  // namespace nibble::server
