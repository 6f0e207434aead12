// Session life cycle: frames in, dispatch, liveness and authorization timers.
#include "ringcast/pusher/session.h"
#include "ringcast/core/json.h"

#include "detail.h"
#include "ringcast/core/log.h"
#include "ringcast/net/frame.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/ws/frame_encoder.h"

#include <algorithm>

namespace ringcast::pusher {

namespace {
// How long one fragmented message may take from its first frame to its last. Pusher messages
// are small and no client fragments them; this only ends a message a peer never finishes.
constexpr std::uint64_t fragmented_message_timeout_ms = 30'000;
} // namespace

bool detail::data_object(simdjson::dom::element data, simdjson::dom::parser& scratch, std::string& copy,
                         simdjson::dom::object& out) {

    if (data.is_string()) {
        copy = std::string(data.get_string().value_unsafe());
        simdjson::dom::element inner;
        if (scratch.parse(copy).get(inner)) {
            return false;
        }
        return !inner.get_object().get(out);
    }
    return !data.get_object().get(out);
}

session::session(context& ctx, shard::conn_id c, std::uint32_t app, socket_key key)
    : ctx_(ctx), conn_(c), app_(app), key_(key), decoder_(ctx.app(app).max_message_size) {
    opened_ms_ = last_seen_ms_ = ctx_.io().now_ms();
    send(connection_established(socket_id(), ctx_.app(app_).activity_timeout_s));
    schedule_timer();
}

session::~session() = default;

void session::log_frame(const char* direction, std::string_view frame) const {
    const std::string& app = ctx_.app(app_).id;
    if (core::debug_shows(app, frame)) {
        RC_LOG_DEBUG("%s %s [app %s] %.*s", socket_id().c_str(), direction, app.c_str(),
                     static_cast<int>(frame.size()), frame.data());
    }
}

void session::send(net::frame_ref f) {
    if (core::debugging()) {
        log_frame("<-", payload_of(*f));
    }
    app_metrics& m = ctx_.stats().app(app_);
    m.ws_messages_sent.add();
    m.ws_bytes_sent.add(f->size());
    ctx_.io().send(conn_, std::move(f));
}

void session::send_error(std::string_view message) {
    send(error(std::nullopt, message));
}

void session::send_error(code c, std::string_view message) {
    send(error(value(c), message));
}

void session::on_data(std::string_view bytes) {
    if (closing_) {
        return;
    }
    // Any bytes from the client prove it is alive (Pusher: "any message counts").
    last_seen_ms_ = ctx_.io().now_ms();
    ping_sent_ms_ = 0;
    switch (decoder_.feed(bytes, *this)) {
    case ws::decoder::state::open:
        watch_fragmented_message();
        return;
    case ws::decoder::state::closing:
        RC_LOG_DEBUG("%s closing (WebSocket close %u)", socket_id().c_str(), decoder_.close_code());
        note_close(decoder_.close_code(), "WebSocket close");
        closing_ = true;
        ctx_.io().close_gracefully(conn_);
        return;
    case ws::decoder::state::failed:
        note_close(value(ws_close::internal_error), "WebSocket decoder failed");
        closing_ = true;
        ctx_.io().close(conn_);
        return;
    }
}

void session::on_control_bytes(std::string_view bytes) {
    // A close frame (opcode 8) with a status code: the decoder answering the client's close, or
    // refusing a frame that breaks the protocol.
    if (bytes.size() >= 4 && (static_cast<unsigned char>(bytes[0]) & 0x0f) == 8) {
        ctx_.stats().close_sent(static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[2]) << 8) |
                                                           static_cast<unsigned char>(bytes[3])));
    }
    ctx_.io().send(conn_, net::frame_ref(net::frame::copy_of(bytes)));
}

void session::close_with(code c, std::string_view message) {
    if (closing_) {
        return;
    }
    send(error(value(c), message));
    send_close(value(c), message);
}

void session::send_close(std::uint16_t close_code, std::string_view reason) {
    note_close(close_code, reason);
    ctx_.stats().close_sent(close_code);
    ctx_.io().send(conn_, ws::close_frame(close_code, reason));
    closing_ = true;
    ctx_.io().close_gracefully(conn_);
}

void session::on_closed() {
    // No close handshake: the peer went away (or the shard closed it as a slow consumer).
    note_close(value(ws_close::abnormal), "connection closed without a WebSocket close");
    ctx_.close_session(*this);
}

void session::note_close(std::uint16_t close_code, std::string_view reason) {
    if (closing_ || !ctx_.console_watching(app_)) {
        return;
    }
    ctx_.console_record({.kind = console_kind::disconnected,
                         .app = app_,
                         .code = close_code,
                         .socket = key_,
                         .reason = std::string(reason)});
}

void session::console_note(console_kind kind, std::string_view channel) {
    if (ctx_.console_watching(app_)) {
        ctx_.console_record({.kind = kind, .app = app_, .socket = key_, .channel = std::string(channel)});
    }
}

void session::on_failure() {
    note_close(value(ws_close::internal_error), "internal server error");
    // Straight to the shard: the session's own state is what just failed.
    ctx_.stats().close_sent(value(ws_close::internal_error));
    ctx_.io().send(conn_, ws::close_frame(value(ws_close::internal_error), "Internal server error"));
    closing_ = true;
}

void session::on_shutdown() {
    if (closing_) {
        return;
    }
    // 4200 rather than 1001: pusher-js reconnects at once on 4200-4299 (to the server that
    // took over the port, after a restart) instead of waiting out its back-off.
    send_close(value(code::reconnect_now), "Server shutting down: reconnect");
}

void session::on_text(std::string_view message) {
    if (closing_) {
        return;
    }
    if (core::debugging()) {
        log_frame("->", message);
    }
    app_metrics& m = ctx_.stats().app(app_);
    m.ws_messages_received.add();
    m.ws_bytes_received.add(message.size());
    const config::app& a = ctx_.app(app_);
    if (a.rate_limiting_enabled) {
        // Reverb's limiter: every inbound message counts, in fixed windows of decay seconds.
        std::uint64_t now = ctx_.io().now_ms();
        if (now >= message_window_ms_ + a.rate_limit_decay_s * 1000ULL) {
            message_window_ms_ = now;
            message_count_ = 0;
        }
        if (++message_count_ > a.rate_limit_max_attempts) {
            if (a.rate_limit_terminate) {
                close_with(code::client_event_rate_limit, "Rate limit exceeded");
            } else {
                send_error(code::client_event_rate_limit, "Rate limit exceeded");
            }
            return;
        }
    }

    simdjson::dom::element root;
    if (auto err = core::parse_json(ctx_.json(), message).get(root)) {
        send_error(std::string("Invalid JSON: ") + simdjson::error_message(err));
        return;
    }
    simdjson::dom::object obj;
    if (root.get_object().get(obj)) {
        send_error("A Pusher message must be a JSON object");
        return;
    }
    std::string_view event;
    if (obj["event"].get_string().get(event)) {
        send_error("A Pusher message needs an \"event\" string");
        return;
    }
    if (event == "pusher:ping") {
        send(pong());
        return;
    }
    if (event == "pusher:pong") {
        return; // liveness only; on_data() already noted it
    }
    if (event.starts_with("client-")) {
        handle_client_event(event, obj);
        return;
    }
    simdjson::dom::element data;
    bool has_data = !obj["data"].get(data);
    if (event == "pusher:subscribe" || event == "pusher:unsubscribe") {
        if (!has_data) {
            send_error(std::string(event) + " needs data.channel (a string)");
        } else if (event == "pusher:subscribe") {
            handle_subscribe(data);
        } else {
            handle_unsubscribe(data);
        }
        return;
    }
    if (event == "pusher:signin") {
        if (!has_data) {
            refuse_signin("pusher:signin needs data with auth and user_data");
        } else {
            handle_signin(data);
        }
        return;
    }
    send_error("Unsupported event \"" + std::string(event) + "\"");
}

void session::leave_all() {
    while (!subs_.empty()) {
        unsubscribe_at(subs_.size() - 1);
    }
    // Joins still in flight are undone when their answers find no session.
    if (more_) {
        more_->pending_presence.clear();
    }
    sign_out();
}

void session::schedule_timer() {
    const config::app& a = ctx_.app(app_);
    std::uint64_t due = ping_sent_ms_ != 0 ? ping_sent_ms_ + a.pong_timeout_s * 1000ULL
                                           : last_seen_ms_ + a.ping_interval_s * 1000ULL;
    if (a.authorized_connections_timeout_s != 0 && !authorized_) {
        due = std::min<std::uint64_t>(due, opened_ms_ + a.authorized_connections_timeout_s * 1000ULL);
    }
    if (message_started_s_ != 0) {
        due = std::min<std::uint64_t>(due, message_started_s_ * 1000ULL + fragmented_message_timeout_ms);
    }
    ctx_.io().set_timer(conn_, due);
}

void session::watch_fragmented_message() {
    if (!decoder_.mid_message()) {
        message_started_s_ = 0;
    } else if (message_started_s_ == 0) {
        message_started_s_ = static_cast<std::uint32_t>(ctx_.io().now_ms() / 1000);
        schedule_timer();
    }
}

void session::on_timer() {
    if (closing_) {
        return;
    }
    const config::app& a = ctx_.app(app_);
    std::uint64_t now = ctx_.io().now_ms();
    if (message_started_s_ != 0 && now >= message_started_s_ * 1000ULL + fragmented_message_timeout_ms) {
        RC_LOG_DEBUG("%s: fragmented message not finished in time, closing", socket_id().c_str());
        send_close(value(ws_close::policy_violation), "Fragmented message not completed in time");
        return;
    }
    if (a.authorized_connections_timeout_s != 0 && !authorized_ &&
        now >= opened_ms_ + a.authorized_connections_timeout_s * 1000ULL) {
        close_with(code::unauthorized, "Connection not authorized within timeout");
        return;
    }
    if (ping_sent_ms_ != 0 && now >= ping_sent_ms_ + a.pong_timeout_s * 1000ULL) {
        RC_LOG_DEBUG("%s: no pong within %us, closing", socket_id().c_str(), a.pong_timeout_s);
        close_with(code::pong_not_received, "Pong reply not received in time");
        return;
    }
    if (ping_sent_ms_ == 0 && now >= last_seen_ms_ + a.ping_interval_s * 1000ULL) {
        // pusher:ping rather than a WebSocket ping: every Pusher client answers it at the
        // protocol level, and a reply proves the application, not just the TCP stack, is alive.
        send(ping());
        ping_sent_ms_ = now;
    }
    schedule_timer();
}

} // namespace ringcast::pusher
