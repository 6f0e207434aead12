// WebSocket opening handshake (RFC 6455 section 4.2).
#include "ringcast/ws/handshake.h"

#include "ringcast/core/crypto.h"

#include <algorithm>
#include <cctype>

namespace ringcast::ws {

namespace {
// Case-insensitive search for a token in a comma-separated header such as
// "Connection: keep-alive, Upgrade" (Firefox sends exactly that).
bool has_token(std::string_view header, std::string_view token) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view part = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) {
            part.remove_prefix(1);
        }
        while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) {
            part.remove_suffix(1);
        }
        if (part.size() == token.size() &&
            std::equal(part.begin(), part.end(), token.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            return true;
        }
    }
    return false;
}
} // namespace

std::string accept_key(std::string_view client_key) {
    std::string material(client_key);
    material += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // the GUID fixed by RFC 6455
    return core::sha1_base64(material);
}

core::status check_upgrade(const http::request& req) {
    if (req.method != "GET") {
        return core::failure("WebSocket upgrade must use GET", 400);
    }
    if (!has_token(req.header("upgrade"), "websocket")) {
        return core::failure("Upgrade header must be \"websocket\"", 400);
    }
    if (!has_token(req.header("connection"), "upgrade")) {
        return core::failure("Connection header must contain \"Upgrade\"", 400);
    }
    if (req.header("sec-websocket-version") != "13") {
        return core::failure("Sec-WebSocket-Version must be 13", 400);
    }
    // The key is 16 random bytes in base64: always 24 characters.
    if (req.header("sec-websocket-key").size() != 24) {
        return core::failure("Sec-WebSocket-Key is missing or malformed", 400);
    }
    return core::ok();
}

std::string upgrade_response(std::string_view client_key) {
    std::string out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: ";
    out += accept_key(client_key);
    out += "\r\nX-Powered-By: ringcast\r\n\r\n";
    return out;
}

} // namespace ringcast::ws
