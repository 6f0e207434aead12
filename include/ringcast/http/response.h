// HTTP/1.1 responses. Every answer ringcast gives over plain HTTP is JSON, errors included, so
// SDKs (pusher-php treats any non-200 body as the error text) and people can read them.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::http {

[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

// A complete response with the given Content-Type and Content-Length (the metrics scrape's text).
[[nodiscard]] std::string response(int status, std::string_view content_type, std::string_view body,
                                   bool keep_alive, std::string_view extra_headers = {});

// A complete response with Content-Type: application/json and Content-Length.
// `extra_headers` is zero or more "Name: value\r\n" lines.
[[nodiscard]] std::string json_response(int status, std::string_view json_body, bool keep_alive,
                                        std::string_view extra_headers = {});

// {"error":"<message>"} with the message JSON-escaped.
[[nodiscard]] std::string json_error(int status, std::string_view message, bool keep_alive,
                                     std::string_view extra_headers = {});

} // namespace ringcast::http
