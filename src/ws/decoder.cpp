// wslay glue: pulls input from the current feed() span, pushes control bytes to the sink.
#include "ringcast/ws/decoder.h"

#include <simdjson.h>
#include <wslay/wslay.h>

#include <cstring>
#include <new>
#include <string>

namespace ringcast::ws {

namespace {
decoder& self(void* user) {
    return *static_cast<decoder*>(user);
}
} // namespace

ssize_t decoder::recv_cb(wslay_event_context* ctx, std::uint8_t* buf, size_t len, int, void* user) {
    decoder& d = self(user);
    if (d.input_.empty()) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < d.input_.size() ? len : d.input_.size();
    std::memcpy(buf, d.input_.data(), n);
    d.input_.remove_prefix(n);
    return static_cast<ssize_t>(n);
}

ssize_t decoder::send_cb(wslay_event_context*, const std::uint8_t* data, size_t len, int, void* user) {
    decoder& d = self(user);
    d.sink_->on_control_bytes(std::string_view(reinterpret_cast<const char*>(data), len));
    return static_cast<ssize_t>(len);
}

void decoder::queue_close(std::uint16_t code, std::string_view reason) {
    closing_ = true;
    close_code_ = code;
    wslay_event_queue_close(ctx_, code, reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size());
}

void decoder::on_msg_cb(wslay_event_context*, const wslay_event_on_msg_recv_arg* arg, void* user) {
    decoder& d = self(user);
    if (d.closing_) {
        return; // after we decided to close, nothing more is delivered
    }
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME: {
        const char* text = reinterpret_cast<const char*>(arg->msg);
        if (!simdjson::validate_utf8(text, arg->msg_length)) {
            d.queue_close(1007, "Invalid UTF-8 in text message");
            return;
        }
        d.sink_->on_text(std::string_view(text, arg->msg_length));
        return;
    }
    case WSLAY_BINARY_FRAME:
        // The Pusher protocol is JSON over text frames only.
        d.queue_close(1003, "Binary messages are not supported");
        return;
    case WSLAY_CONNECTION_CLOSE:
        // wslay has already queued the reply close frame.
        d.closing_ = true;
        d.close_code_ = arg->status_code;
        return;
    default:
        return; // ping (wslay queued the pong) and pong: liveness only
    }
}

decoder::decoder(std::uint32_t max_message_size) : max_message_size_(max_message_size) {}

decoder::~decoder() {
    if (ctx_ != nullptr) {
        wslay_event_context_free(ctx_);
    }
}

namespace {
// One complete client text frame at the front of the input, in the form every Pusher client
// sends: FIN set, no reserved bits, masked, a length of at most 16 bits.
struct simple_frame {
    size_t header = 0; // bytes before the payload, mask included
    size_t length = 0;
};

bool parse_simple(std::string_view in, std::uint32_t max_length, simple_frame& f) {
    if (in.size() < 6 || static_cast<std::uint8_t>(in[0]) != 0x81) {
        return false; // not FIN + text (fragments, control frames, reserved bits: wslay's)
    }
    auto b1 = static_cast<std::uint8_t>(in[1]);
    if ((b1 & 0x80) == 0) {
        return false; // unmasked: wslay refuses it with the right close code
    }
    size_t len = b1 & 0x7f;
    size_t header = 6;
    if (len == 127) {
        return false;
    }
    if (len == 126) {
        if (in.size() < 8) {
            return false;
        }
        len = (static_cast<size_t>(static_cast<std::uint8_t>(in[2])) << 8) | static_cast<std::uint8_t>(in[3]);
        header = 8;
    }
    if (len > max_length || in.size() - header < len) {
        return false;
    }
    f.header = header;
    f.length = len;
    return true;
}

void unmask(const char* mask, const char* in, char* out, size_t n) noexcept {
    std::uint64_t wide = 0;
    for (int k = 0; k < 8; ++k) {
        wide |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(mask[k % 4])) << (8 * k);
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, in + i, 8);
        w ^= wide;
        std::memcpy(out + i, &w, 8);
    }
    for (; i < n; ++i) {
        out[i] = static_cast<char>(in[i] ^ mask[i % 4]);
    }
}
} // namespace

std::string_view decoder::feed_simple(std::string_view input, message_sink& sink) {
    simple_frame f;
    while (parse_simple(input, max_message_size_, f)) {
        const char* mask = input.data() + f.header - 4;
        const char* payload = input.data() + f.header;
        // Most Pusher messages are well under a kilobyte; a bigger one takes the heap once.
        char small[2048];
        std::string big;
        char* text = small;
        if (f.length > sizeof small) {
            big.resize(f.length);
            text = big.data();
        }
        unmask(mask, payload, text, f.length);
        if (!simdjson::validate_utf8(text, f.length)) {
            break; // wslay delivers it again and on_msg_cb closes with 1007
        }
        input.remove_prefix(f.header + f.length);
        sink.on_text(std::string_view(text, f.length));
    }
    return input;
}

decoder::state decoder::feed(std::string_view input, message_sink& sink) {
    if (ctx_ == nullptr && !closing_) {
        // Whole, unfragmented text frames are decoded here without wslay: its context costs a
        // zeroed 8.8 KB allocation, and between messages it is freed again (see ctx_).
        input = feed_simple(input, sink);
        if (input.empty()) {
            return state::open;
        }
    }
    if (ctx_ == nullptr) {
        static const wslay_event_callbacks callbacks = {
            &decoder::recv_cb, &decoder::send_cb,
            nullptr, // genmask: servers never mask
            nullptr,           nullptr,           nullptr, &decoder::on_msg_cb,
        };
        if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
            ctx_ = nullptr;
            return state::failed;
        }
        wslay_event_config_set_max_recv_msg_length(ctx_, max_message_size_);
    }
    boundary_.consume(input);
    input_ = input;
    sink_ = &sink;
    int rc = 0;
    if (boundary_.malformed() && !closing_) {
        queue_close(1002, "Protocol error: a 64-bit frame length must not have its top bit set");
    } else if (boundary_.frames_in_message() > max_frames_per_message && !closing_) {
        queue_close(1009, "Message too big: more than " + std::to_string(max_frames_per_message) + " frames");
    } else if (wslay_event_want_read(ctx_)) {
        rc = wslay_event_recv(ctx_);
    }
    // wslay stops reading once it has queued a close (protocol error, 1009, ...); whatever is
    // left of the input is deliberately dropped.
    input_ = {};
    if (rc == 0) {
        rc = wslay_event_send(ctx_);
    }
    sink_ = nullptr;
    if (rc != 0) {
        return state::failed;
    }
    if (closing_ || wslay_event_get_close_sent(ctx_) || !wslay_event_want_read(ctx_)) {
        if (close_code_ == 0) {
            close_code_ = wslay_event_get_status_code_sent(ctx_);
        }
        return state::closing;
    }
    if (boundary_.idle() && !wslay_event_want_write(ctx_)) {
        // Nothing half-read and nothing left to send: wslay holds no state worth keeping.
        wslay_event_context_free(ctx_);
        ctx_ = nullptr;
    }

    return state::open;
}

} // namespace ringcast::ws
