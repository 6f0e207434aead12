// The RFC 6455 opening handshake: checks an upgrade request and builds the 101 answer.
#pragma once

#include "ringcast/core/status.h"

#include "ringcast/http/request.h"

#include <string>
#include <string_view>

namespace ringcast::ws {

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
[[nodiscard]] std::string accept_key(std::string_view client_key);

// "" when `req` is a valid WebSocket upgrade, otherwise why it is not (for a 400 answer).
[[nodiscard]] core::status check_upgrade(const http::request& req);

// The complete 101 Switching Protocols response.
[[nodiscard]] std::string upgrade_response(std::string_view client_key);

} // namespace ringcast::ws
