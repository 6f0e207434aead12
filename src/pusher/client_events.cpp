// client-* events (Echo's whisper): who may send them, where, how often, and how they are relayed.
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/session.h"

namespace ringcast::pusher {

void session::handle_client_event(std::string_view event, simdjson::dom::object message) {
    const config::app& a = ctx_.app(app_);
    if (a.accept_client_events_from == config::client_events_from::none) {
        ctx_.stats().client_event_refused(client_event_refusal::disabled);
        send_error(code::client_event_rate_limit, "The app does not have client messaging enabled.");
        return;
    }
    std::string_view channel;
    if (message["channel"].get_string().get(channel)) {
        ctx_.stats().client_event_refused(client_event_refusal::malformed);
        send_error("A client event needs a \"channel\"");
        return;
    }
    channel_kind kind = kind_of(channel);
    if (kind == channel_kind::private_encrypted || kind == channel_kind::private_encrypted_cache) {
        ctx_.stats().client_event_refused(client_event_refusal::channel_kind);
        send_error("Client events are not supported on encrypted channels (" + std::string(channel) + ")");
        return;
    }
    bool allowed_kind =
        kind == channel_kind::private_channel || kind == channel_kind::private_cache || is_presence(kind);
    if (!allowed_kind) {
        ctx_.stats().client_event_refused(client_event_refusal::channel_kind);
        send_error("Client events can only be triggered on private and presence channels, not on " +
                   std::string(channel));
        return;
    }
    const subscription* sub = find_subscription(channel);
    if (sub == nullptr && a.accept_client_events_from == config::client_events_from::members) {
        ctx_.stats().client_event_refused(client_event_refusal::not_subscribed);
        send_error("Cannot broadcast client event (connection not subscribed to channel " +
                   std::string(channel) + ")");
        return;
    }
    if (event.size() > a.max_event_name_length) {
        ctx_.stats().client_event_refused(client_event_refusal::name_too_long);
        send_error("Client event name is " + std::to_string(event.size()) +
                   " characters long; the limit is " + std::to_string(a.max_event_name_length));
        return;
    }
    // A fixed one-second window: simple, and exactly "at most N per second" as Pusher states it.
    std::uint64_t now = ctx_.io().now_ms();
    if (now >= rate_window_ms_ + 1000) {
        rate_window_ms_ = now;
        rate_count_ = 0;
    }
    if (++rate_count_ > a.max_client_events_per_second) {
        ctx_.stats().client_event_refused(client_event_refusal::rate_limited);
        send_error(code::client_event_rate_limit, "Client event rejected due to rate limit");
        return;
    }
    std::string data;
    simdjson::dom::element d;
    bool has_data = !message["data"].get(d);
    if (has_data) {
        data = simdjson::minify(d); // relayed as sent: a string stays a string, an object an object
    }
    std::string_view user = sub != nullptr ? presence_user(sub->channel) : std::string_view{};
    // Client events are never cached, so this goes straight to fan-out.
    ctx_.broadcast(app_, channel, client_event(event, channel, data, user), key_);
    if (ctx_.console_watching(app_)) {
        console_client_event(channel, event, data);
    }
    if (ctx_.wants_webhook(app_, config::webhook_kind::client_event)) {
        webhook::event ev;
        ev.kind = config::webhook_kind::client_event;
        ev.app = app_;
        ev.channel = channel;
        ev.name = event;
        // Pusher's webhook carries data as a string: a string as it is, anything else as its JSON.
        std::string_view text;
        ev.data = has_data && !d.get_string().get(text) ? std::string(text) : data;
        ev.socket_id = format_socket_id(key_);
        ev.user_id = user;
        ctx_.emit_webhook(std::move(ev));
    }
}

void session::console_client_event(std::string_view channel, std::string_view event, std::string_view data) {
    console_event ev{.kind = console_kind::client_event,
                     .app = app_,
                     .socket = key_,
                     .channel = std::string(channel),
                     .name = std::string(event),
                     .data = std::string(data)};
    ev.truncated = console_log::cut(ev.data);
    ctx_.console_record(std::move(ev));
}

} // namespace ringcast::pusher
