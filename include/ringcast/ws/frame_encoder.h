// Server-to-client WebSocket frames, encoded once into a shareable net::frame. Server frames are
// never masked (RFC 6455 5.1), so the same bytes can go to every subscriber.
#pragma once

#include "ringcast/net/frame.h"

#include <cstdint>
#include <string_view>

namespace ringcast::ws {

enum class opcode : std::uint8_t { text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xa };

// Bytes of header a payload of `len` needs (2, 4 or 10).
constexpr std::uint32_t header_size(std::uint64_t len) noexcept {
    return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

// Writes a FIN frame header for `len` payload bytes at `out`; returns the header length.
std::uint32_t write_header(char* out, opcode op, std::uint64_t len) noexcept;

// A frame with room for `payload_len` bytes whose header is already written; the caller fills
// the payload at `payload_out` before sharing the frame.
[[nodiscard]] net::frame_ref allocate_frame(opcode op, std::uint32_t payload_len, char** payload_out);

[[nodiscard]] net::frame_ref text_frame(std::string_view payload);
// A close frame with a status code and a short reason (truncated to fit a control frame).
[[nodiscard]] net::frame_ref close_frame(std::uint16_t code, std::string_view reason);

} // namespace ringcast::ws
