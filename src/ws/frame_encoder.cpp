// Frame header layout (RFC 6455 5.2) for unmasked server frames.
#include "ringcast/ws/frame_encoder.h"

#include <cstring>

namespace ringcast::ws {

std::uint32_t write_header(char* out, opcode op, std::uint64_t len) noexcept {
    auto* p = reinterpret_cast<unsigned char*>(out);
    p[0] = static_cast<unsigned char>(0x80 | static_cast<unsigned>(op)); // FIN + opcode
    if (len < 126) {
        p[1] = static_cast<unsigned char>(len);
        return 2;
    }
    if (len <= 0xffff) {
        p[1] = 126;
        p[2] = static_cast<unsigned char>(len >> 8);
        p[3] = static_cast<unsigned char>(len);
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; ++i) {
        p[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
    }
    return 10;
}

net::frame_ref allocate_frame(opcode op, std::uint32_t payload_len, char** payload_out) {
    std::uint32_t h = header_size(payload_len);
    net::frame* f = net::frame::allocate(h + payload_len);
    write_header(f->data(), op, payload_len);
    *payload_out = f->data() + h;
    return net::frame_ref(f);
}

net::frame_ref text_frame(std::string_view payload) {
    char* out = nullptr;
    net::frame_ref f = allocate_frame(opcode::text, static_cast<std::uint32_t>(payload.size()), &out);
    std::memcpy(out, payload.data(), payload.size());
    return f;
}

net::frame_ref close_frame(std::uint16_t code, std::string_view reason) {
    // Control frames carry at most 125 payload bytes: 2 for the code, 123 for the reason.
    if (reason.size() > 123) {
        reason = reason.substr(0, 123);
    }
    char* out = nullptr;
    net::frame_ref f = allocate_frame(opcode::close, static_cast<std::uint32_t>(2 + reason.size()), &out);
    out[0] = static_cast<char>(code >> 8);
    out[1] = static_cast<char>(code & 0xff);
    std::memcpy(out + 2, reason.data(), reason.size());
    return f;
}

} // namespace ringcast::ws
