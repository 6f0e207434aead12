// The client side of the wire: WebSocket frames in both directions, the opening handshake, and
// the few Pusher facts a receiver must find in a payload. Everything here is allocation-free on
// the receive path because the receivers must never be the bottleneck.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

enum class ws_opcode : std::uint8_t {
    continuation = 0,
    text = 1,
    binary = 2,
    close = 8,
    ping = 9,
    pong = 10
};

struct ws_frame {
    ws_opcode opcode = ws_opcode::text;
    bool fin = true;
    std::string_view payload;
};

enum class frame_status { ok, need_more, bad };

// Reads the frame at the front of `data`; on ok sets `frame` and `consumed` (header + payload).
// A masked server frame is `bad` (RFC 6455 §5.1 forbids it), as is a payload over 16 MiB.
[[nodiscard]] frame_status read_frame(std::string_view data, ws_frame& frame, std::size_t& consumed) noexcept;

// The whole size (header + payload) of the frame that starts `data`, or 0 while its header is
// still incomplete. Lets a receiver copy only the rest of one frame when a frame straddles reads.
[[nodiscard]] std::size_t frame_length(std::string_view data) noexcept;

// Appends a masked client frame (RFC 6455 §5.3: every client frame is masked).
void append_masked_frame(std::string& out, ws_opcode opcode, std::string_view payload, std::uint32_t mask);

// A Sec-WebSocket-Key (base64 of 16 bytes) derived from `seed`; the server only echoes its hash.
[[nodiscard]] std::string websocket_key(std::uint64_t seed);
// The Sec-WebSocket-Accept value the server must answer `key` with.
[[nodiscard]] std::string websocket_accept(std::string_view key);

// The GET request that upgrades to the Pusher endpoint {path}/app/{key}, with the query pusher-js
// 8.4 sends, so servers that inspect it (client, version) treat us like a browser.
[[nodiscard]] std::string upgrade_request(std::string_view host, std::uint16_t port, std::string_view path,
                                          std::string_view app_key, std::string_view ws_key);

// The value of the envelope's top-level "event" key, or empty. Used for control messages only.
[[nodiscard]] std::string_view event_name(std::string_view payload) noexcept;

// The publisher's stamp inside an event's data: the numbers after "seq" and "t". The data is a
// JSON string inside the envelope, so the keys arrive as \"seq\": — both spellings are accepted.
struct stamp {
    std::uint64_t seq = 0;
    std::uint64_t t_ns = 0;
};
[[nodiscard]] bool find_stamp(std::string_view payload, stamp& out) noexcept;

// The socket_id in pusher:connection_established's data (a JSON string), or empty.
[[nodiscard]] std::string_view find_socket_id(std::string_view payload) noexcept;

// A bench user id after "user_id" (member_added, member_removed): a letter ('u' for churners,
// 'o' for observers) and the connection number, e.g. "u12".
[[nodiscard]] bool find_user(std::string_view payload, char& kind, std::uint32_t& number) noexcept;

// What a presence channel's subscription_succeeded says: {"presence":{"ids":[...],"hash":{...},
// "count":N}}. `listed` counts the entries of "ids"; `has_self` says whether `own_id` is one of them.
struct presence_summary {
    std::uint64_t count = 0;
    std::uint64_t listed = 0;
    bool has_self = false;
};
[[nodiscard]] bool read_presence(std::string_view payload, std::string_view own_id,
                                 presence_summary& out) noexcept;

} // namespace ringcast::bench
