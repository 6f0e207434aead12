// The one way a fallible call reports failure: `status` (ok, or a message and a code) and
// `result<T>` (a value, or a failed status). Messages are written for the person who will read
// them (a log line, a JSON error body, the line printed before exiting), naming the flag, key or
// field at fault. The code is whatever the caller's protocol needs: an HTTP status for the API,
// 0 where only the message matters (configuration).
//
// Exceptions are kept for what no caller can handle locally (std::bad_alloc, broken
// invariants); see the exception rule at the top of shard/shard.h.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace ringcast::core {

class [[nodiscard]] status {
public:
    status() = default; // ok
    static status failure(std::string message, int code = 0) {
        status s;
        s.failed_ = true;
        s.code_ = code;
        s.message_ = std::move(message);
        return s;
    }

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return !failed_; }
    int code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }

private:
    bool failed_ = false;
    int code_ = 0;
    std::string message_;
};

inline status ok() {
    return {};
}
inline status failure(std::string message, int code = 0) {
    return status::failure(std::move(message), code);
}

// A T, or the status saying why there is none. Built from a T (success) or a failed status.
template <typename T> class [[nodiscard]] result {
public:
    result(T value) : value_(std::move(value)) {} // NOLINT: implicit, so `return value;` reads well
    result(status failed) : error_(std::move(failed)) { assert(!error_.ok()); } // NOLINT

    bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const status& error() const noexcept { return error_; }

    T& value() & { return *value_; }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    T& operator*() & { return *value_; }
    const T& operator*() const& { return *value_; }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }

private:
    std::optional<T> value_;
    status error_;
};

} // namespace ringcast::core
