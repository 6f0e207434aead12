// Incremental HTTP/1.1 request parser over llhttp, with ringcast's limits. Sans-I/O: feed it
// bytes as they arrive; it yields complete requests one at a time (pipelining works), the
// offset where WebSocket bytes start after an upgrade, or an error with the HTTP status to send.
#pragma once

#include "ringcast/http/request.h"

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::http {

struct limits {
    std::uint32_t max_header_bytes = 16 * 1024;
    std::uint32_t max_body_bytes = 256 * 1024;
};

class parser {
public:
    enum class status {
        need_more, // everything consumed, no complete request yet
        request,   // take() the request; call feed() again with the rest of the input
        upgrade,   // take() the request; bytes after `consumed` belong to the WebSocket
        error,     // answer error_status() with error_message(), then close
    };

    struct result {
        status what = status::need_more;
        size_t consumed = 0; // bytes of the input used by this step
    };

    explicit parser(limits l);
    parser(const parser&) = delete;
    parser& operator=(const parser&) = delete;

    [[nodiscard]] result feed(std::string_view input);
    [[nodiscard]] request take() noexcept { return std::move(current_); }

    int error_status() const noexcept { return error_status_; }
    const std::string& error_message() const noexcept { return error_message_; }
    // True while a request has started but not finished (for the handshake timeout).
    bool mid_request() const noexcept { return started_; }

private:
    static int on_message_begin(llhttp_t* p);
    static int on_url(llhttp_t* p, const char* at, size_t len);
    static int on_header_field(llhttp_t* p, const char* at, size_t len);
    static int on_header_value(llhttp_t* p, const char* at, size_t len);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, size_t len);
    static int on_message_complete(llhttp_t* p);
    bool count_header_bytes(size_t len) noexcept;
    int fail(int status, std::string message) noexcept;

    llhttp_t parser_{};
    llhttp_settings_t settings_{};
    limits limits_;
    request current_;
    size_t header_bytes_ = 0;
    bool in_value_ = false;
    bool started_ = false;
    bool complete_ = false;
    int error_status_ = 0;
    std::string error_message_;
};

} // namespace ringcast::http
