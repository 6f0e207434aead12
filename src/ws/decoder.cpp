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

decoder::state decoder::feed(std::string_view input, message_sink& sink) {
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
