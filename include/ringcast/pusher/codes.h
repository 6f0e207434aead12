// Every Pusher error/close code and WebSocket close code ringcast sends, in one place.
// Ranges (Pusher protocol): 4000-4099 do not reconnect unchanged, 4100-4199 reconnect with
// backoff, 4200-4299 reconnect now, 4300+ are errors that keep the connection open.
#pragma once

#include <cstdint>

namespace ringcast::pusher {

enum class code : std::uint16_t {
    ssl_only = 4000,
    app_not_found = 4001,
    app_disabled = 4003,
    over_connection_quota = 4004,
    path_not_found = 4005,
    invalid_version_format = 4006,
    unsupported_protocol = 4007,
    no_protocol_version = 4008,
    unauthorized = 4009,
    over_capacity = 4100,
    reconnect_now = 4200,
    pong_not_received = 4201,
    closed_after_inactivity = 4202,
    client_event_rate_limit = 4301,
    watchlist_limit = 4302,
};

// RFC 6455 codes we use when closing.
enum class ws_close : std::uint16_t {
    normal = 1000,
    going_away = 1001,
    policy_violation = 1008, // a fragmented message not finished in time
    internal_error = 1011,   // a handler threw: the server could not go on with this connection
    abnormal = 1006,         // never sent: how the console reports a connection that just ended
};

constexpr std::uint16_t value(code c) noexcept {
    return static_cast<std::uint16_t>(c);
}
constexpr std::uint16_t value(ws_close c) noexcept {
    return static_cast<std::uint16_t>(c);
}

} // namespace ringcast::pusher
