// Response serialisation.
#include "ringcast/http/response.h"

#include "ringcast/core/json_writer.h"

namespace ringcast::http {

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:

        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

std::string json_response(int status, std::string_view json_body, bool keep_alive,
                          std::string_view extra_headers) {
    return response(status, "application/json", json_body, keep_alive, extra_headers);
}

std::string response(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                     std::string_view extra_headers) {
    std::string out;
    out.reserve(160 + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason_phrase(status);
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
    out += extra_headers;
    out += "\r\n";
    out += body;
    return out;
}

std::string json_error(int status, std::string_view message, bool keep_alive,
                       std::string_view extra_headers) {
    std::string body = "{\"error\":\"";
    core::append_json_escaped(body, message);
    body += "\"}";
    return json_response(status, body, keep_alive, extra_headers);
}

} // namespace ringcast::http
