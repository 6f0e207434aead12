// Per-connection Pusher protocol handling.
#include "ringcast/pusher/session.h"

#include "ringcast/core/crypto.h"
#include "ringcast/core/log.h"
#include "ringcast/net/frame.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/ws/frame_encoder.h"

#include <algorithm>

namespace ringcast::pusher {

session::session(context& ctx, shard::conn& c, std::uint32_t app, std::string socket_id)
    : ctx_(ctx), conn_(c), app_(app), socket_id_(std::move(socket_id)),
      decoder_(ctx.app(app).max_message_size) {
    last_seen_ms_ = ctx_.owner().now_ms();
    send(connection_established(socket_id_, ctx_.app(app_).activity_timeout_s));
    schedule_timer();
}

session::~session() = default;

void session::send(net::frame_ref f) {
    if (core::debugging()) {
        std::string_view p = payload_of(*f);
        RC_LOG_DEBUG("%s <- %.*s", socket_id_.c_str(), static_cast<int>(p.size()), p.data());
    }
    ctx_.owner().send(conn_, std::move(f));
}

void session::send_error(std::string_view message) {
    send(error(std::nullopt, message));
}

void session::feed(std::string_view bytes) {
    if (closing_) {
        return;
    }
    // Any bytes from the client prove it is alive (Pusher: "any message counts").
    last_seen_ms_ = ctx_.owner().now_ms();
    ping_sent_ms_ = 0;
    switch (decoder_.feed(bytes, *this)) {
    case ws::decoder::state::open:
        return;
    case ws::decoder::state::closing:
        RC_LOG_DEBUG("%s closing (WebSocket close %u)", socket_id_.c_str(), decoder_.close_code());
        closing_ = true;
        ctx_.owner().close_gracefully(conn_);
        return;
    case ws::decoder::state::failed:
        closing_ = true;
        ctx_.owner().close(conn_);
        return;
    }
}

void session::on_control_bytes(std::string_view bytes) {
    ctx_.owner().send(conn_, net::frame_ref(net::frame::copy_of(bytes)));
}

void session::close_with(code c, std::string_view message) {
    if (closing_) {
        return;
    }
    send(error(value(c), message));
    ctx_.owner().send(conn_, ws::close_frame(value(c), message));
    closing_ = true;
    ctx_.owner().close_gracefully(conn_);
}

void session::close_for_shutdown() {
    if (closing_) {
        return;
    }
    ctx_.owner().send(conn_, ws::close_frame(value(ws_close::going_away), "Server shutting down"));
    closing_ = true;
    ctx_.owner().close_gracefully(conn_);
}

void session::on_text(std::string_view message) {
    if (closing_) {
        return;
    }
    RC_LOG_DEBUG("%s -> %.*s", socket_id_.c_str(), static_cast<int>(message.size()), message.data());
    simdjson::dom::element root;
    if (auto err = ctx_.json().parse(message.data(), message.size()).get(root)) {
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
    } else if (event == "pusher:pong") {
        // Liveness only; feed() already noted it.
    } else if (event == "pusher:subscribe" || event == "pusher:unsubscribe") {
        simdjson::dom::element data;
        if (obj["data"].get(data)) {
            send_error(std::string(event) + " needs data.channel (a string)");
        } else if (event == "pusher:subscribe") {
            handle_subscribe(data);
        } else {
            handle_unsubscribe(data);
        }
    } else if (event.starts_with("client-")) {
        send_error("Client events are not enabled on this server");
    } else {
        send_error("Unsupported event \"" + std::string(event) + "\"");
    }
}

namespace {
// Returns data as an object; some clients (pusher-websocket-java) send it JSON-encoded as a
// string, which Reverb accepts too, so a string is parsed once more into `scratch`.
bool data_object(simdjson::dom::element data, simdjson::dom::parser& scratch, simdjson::dom::object& out) {
    if (data.is_string()) {
        std::string copy(data.get_string().value_unsafe());
        simdjson::dom::element inner;
        if (scratch.parse(copy).get(inner)) {
            return false;
        }
        return !inner.get_object().get(out);
    }
    return !data.get_object().get(out);
}
} // namespace

std::string session::check_auth(std::string_view channel, simdjson::dom::object data) const {
    const config::app& a = ctx_.app(app_);
    std::string_view auth;
    if (data["auth"].get_string().get(auth) || auth.empty()) {
        return "Subscription to " + std::string(channel) +
               " needs an auth signature (from your auth endpoint)";
    }
    size_t colon = auth.find(':');
    if (colon == std::string_view::npos) {
        return "Auth value for subscription to " + std::string(channel) +
               " is invalid: should be of format 'key:signature'";
    }
    if (auth.substr(0, colon) != a.key) {
        return "Invalid key in subscription auth data: '" + std::string(auth.substr(0, colon)) + "'";
    }
    std::string to_sign = socket_id_ + ":" + std::string(channel);
    std::string expected = core::hmac_sha256_hex(a.secret, to_sign);
    if (!core::constant_time_equal(expected, auth.substr(colon + 1))) {
        return "Invalid signature: Expected HMAC SHA256 hex digest of " + to_sign + ", but got " +
               std::string(auth.substr(colon + 1));
    }
    return {};
}

void session::handle_subscribe(simdjson::dom::element data) {
    simdjson::dom::parser scratch;
    simdjson::dom::object obj;
    std::string_view channel;
    if (!data_object(data, scratch, obj) || obj["channel"].get_string().get(channel)) {
        send_error("pusher:subscribe needs data.channel (a string)");
        return;
    }
    const config::app& a = ctx_.app(app_);
    if (std::string why = check_channel_name(channel, a.max_channel_name_length); !why.empty()) {
        send(subscription_error(channel, "InvalidChannel", why, 400));
        return;
    }
    channel_kind kind = kind_of(channel);
    switch (kind) {
    case channel_kind::public_channel:
        break;
    case channel_kind::private_channel:
    case channel_kind::private_encrypted:
        if (std::string why = check_auth(channel, obj); !why.empty()) {
            send(subscription_error(channel, "AuthError", why, 401));
            return;
        }
        break;
    default:
        send(subscription_error(
            channel, "UnsupportedChannel",
            "Presence, cache and server-to-user channels are not supported by this server yet", 501));
        return;
    }
    for (const subscription& s : subs_) {
        if (s.channel->name == channel) {
            send(subscription_succeeded(channel)); // idempotent, as pusher-js resubscribes
            return;
        }
    }
    local_channel& ch = ctx_.join(app_, channel, *this);
    subs_.push_back({&ch, static_cast<std::uint32_t>(ch.members.size() - 1)});
    send(subscription_succeeded(channel));
}

void session::handle_unsubscribe(simdjson::dom::element data) {
    simdjson::dom::parser scratch;
    simdjson::dom::object obj;
    std::string_view channel;
    if (!data_object(data, scratch, obj) || obj["channel"].get_string().get(channel)) {
        send_error("pusher:unsubscribe needs data.channel (a string)");
        return;
    }
    for (size_t i = 0; i < subs_.size(); ++i) {
        if (subs_[i].channel->name == channel) {
            unsubscribe_at(i);
            return;
        }
    }
}

void session::unsubscribe_at(size_t i) {
    subscription s = subs_[i];
    subs_[i] = subs_.back();
    subs_.pop_back();
    ctx_.leave(*s.channel, s.index);
}

void session::leave_all() {
    while (!subs_.empty()) {
        unsubscribe_at(subs_.size() - 1);
    }
}

void session::schedule_timer() {
    const config::app& a = ctx_.app(app_);
    std::uint64_t due = ping_sent_ms_ != 0 ? ping_sent_ms_ + a.pong_timeout_s * 1000ULL
                                           : last_seen_ms_ + a.ping_interval_s * 1000ULL;
    ctx_.owner().set_timer(conn_, due);
}

void session::on_timer() {
    if (closing_) {
        return;
    }
    const config::app& a = ctx_.app(app_);
    std::uint64_t now = ctx_.owner().now_ms();
    if (ping_sent_ms_ != 0 && now >= ping_sent_ms_ + a.pong_timeout_s * 1000ULL) {
        RC_LOG_DEBUG("%s: no pong within %us, closing", socket_id_.c_str(), a.pong_timeout_s);
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
