// pusher:subscribe / pusher:unsubscribe: channel kinds, signatures, presence, cache channels.
#include "detail.h"
#include "ringcast/auth/client.h"
#include "ringcast/core/json.h"
#include "ringcast/core/log.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/session.h"

#include <algorithm>
#include <memory>

namespace ringcast::pusher {

namespace {

// A presence member read from channel_data: {"user_id": "1" or 1, "user_info": {...}}.
struct member_data {
    std::string user_id;
    std::string user_info = "null";
    std::string error;
};

member_data parse_channel_data(simdjson::dom::parser& scratch, std::string_view text, const config::app& a) {
    member_data m;
    simdjson::dom::element root;
    simdjson::dom::object obj;
    if (core::parse_json(scratch, text).get(root) || root.get_object().get(obj)) {
        m.error = "channel_data must be a JSON object with user_id";
        return m;
    }
    simdjson::dom::element id;
    if (obj["user_id"].get(id)) {
        m.error = "channel_data has no user_id";
        return m;
    }
    std::string_view id_text;
    std::int64_t id_number = 0;
    if (!id.get_string().get(id_text)) {
        m.user_id = id_text;
    } else if (!id.get_int64().get(id_number)) {
        m.user_id = std::to_string(id_number); // numeric ids are compared as strings
    } else {
        m.error = "user_id must be a string or an integer";
        return m;
    }
    if (m.user_id.empty() || m.user_id.size() > a.max_presence_user_id_length) {
        m.error =
            "user_id must be 1 to " + std::to_string(a.max_presence_user_id_length) + " characters long";
        return m;
    }
    simdjson::dom::element info;
    if (!obj["user_info"].get(info)) {
        m.user_info = simdjson::minify(info);
        if (m.user_info.size() > a.max_presence_member_size) {
            m.error = "user_info is " + std::to_string(m.user_info.size()) + " bytes; the limit is " +
                      std::to_string(a.max_presence_member_size);
        }
    }
    return m;
}

} // namespace

core::status session::check_signature(std::string_view auth, std::string_view to_sign,
                                      std::string_view channel) const {
    core::status verdict = signature_verdict(auth, to_sign, channel);
    if (!verdict) {
        // The message names what should have been signed: what a user debugging a 403 from
        // Echo needs (limited in the log like every line, so a misconfigured client cannot flood it).
        RC_LOG_INFO("auth failure: app %s, %s, channel %.*s: %s", ctx_.app(app_).id.c_str(),
                    socket_id().c_str(), static_cast<int>(channel.size()), channel.data(),
                    verdict.message().c_str());
        if (ctx_.console_watching(app_)) {
            ctx_.console_record({.kind = console_kind::auth_failed,
                                 .app = app_,
                                 .socket = key_,
                                 .channel = std::string(channel),
                                 .reason = verdict.message(),
                                 .signed_text = std::string(to_sign)});
        }
    }
    return verdict;
}

core::status session::signature_verdict(std::string_view auth, std::string_view to_sign,
                                        std::string_view channel) const {
    const config::app& a = ctx_.app(app_);
    switch (ctx_.stats().checked(auth::check_auth(a.key, a.secret, auth, to_sign))) {
    case auth::auth_check::ok:
        return core::ok();
    case auth::auth_check::missing:
        return core::failure("Subscription to " + std::string(channel) +
                                 " needs an auth signature (from your auth endpoint)",
                             401);
    case auth::auth_check::malformed:
        return core::failure("Auth value for subscription to " + std::string(channel) +
                                 " is invalid: should be of format 'key:signature'",
                             401);
    case auth::auth_check::wrong_key:
        return core::failure("Invalid key in subscription auth data: '" +
                                 std::string(auth.substr(0, auth.find(':'))) + "'",
                             401);
    case auth::auth_check::wrong_signature:
        break;
    }
    return core::failure("Invalid signature: Expected HMAC SHA256 hex digest of " + std::string(to_sign) +
                             ", but got " + std::string(auth.substr(auth.find(':') + 1)),
                         401);
}

const session::subscription* session::find_subscription(std::string_view channel) const noexcept {
    for (const subscription& s : subs_) {
        if (s.channel->name == channel) {
            return &s;
        }
    }
    return nullptr;
}

std::string_view session::presence_user(const local_channel* ch) const noexcept {
    for (const auto& [channel, user] : view().presence_users) {
        if (channel == ch) {
            return user;
        }
    }
    return {};
}

void session::join_local(std::string_view channel, std::string presence_user, bool wait_for_cluster) {
    local_channel& ch = ctx_.join(app_, channel, *this);
    subs_.push_back({&ch, static_cast<std::uint32_t>(ch.members.size() - 1)});
    if (!presence_user.empty()) {
        more().presence_users.emplace_back(&ch, std::move(presence_user));
    }
    auto delta = std::make_unique<subscription_delta_mail>();
    delta->app = app_;
    delta->channel = std::string(channel);
    delta->delta = 1;
    if (wait_for_cluster) {
        delta->ack_socket = key_;
        delta->ack_shard = ctx_.io().index();
    }
    ctx_.io().post(ctx_.owner_of(app_, channel), std::move(delta));
    console_note(console_kind::subscribed, channel);
}

void session::on_subscribed(const std::string& channel) {
    if (find_subscription(channel) == nullptr) {
        return; // unsubscribed meanwhile
    }
    send(subscription_succeeded(channel));
    if (is_cache(kind_of(channel))) {
        request_cached_event(channel);
    }
}

void session::handle_subscribe(simdjson::dom::element data) {
    std::string copy;
    simdjson::dom::object obj;
    std::string_view channel;
    if (!detail::data_object(data, ctx_.scratch_json(), copy, obj) ||
        obj["channel"].get_string().get(channel)) {
        send_error("pusher:subscribe needs data.channel (a string)");
        return;
    }
    const config::app& a = ctx_.app(app_);
    if (core::status name = check_channel_name(channel, a.max_channel_name_length); !name) {
        send(subscription_error(channel, "InvalidChannel", name.message(), 400));
        return;
    }
    channel_kind kind = kind_of(channel);
    bool presence = is_presence(kind);
    if (find_subscription(channel) != nullptr) {
        if (!presence) {
            send(subscription_succeeded(channel)); // idempotent; presence already answered once
        }
        return;
    }
    for (const auto& [pending, user] : view().pending_presence) {
        if (pending == channel) {
            return; // the owner's answer is on its way
        }
    }
    if (subs_.size() + view().pending_presence.size() >= a.max_subscriptions_per_connection) {
        send(subscription_error(channel, "LimitReached",
                                "This connection is subscribed to the maximum of " +
                                    std::to_string(a.max_subscriptions_per_connection) +
                                    " channels (max_subscriptions_per_connection)",
                                403));
        return;
    }
    std::string_view auth;
    if (obj["auth"].get_string().get(auth)) {
        auth = {}; // absent, null or not a string: treated as no signature
    }
    if (kind == channel_kind::server_to_user) {
        if (!may_join_user_channel(channel)) {
            return;
        }
    } else if (presence) {
        ask_presence_owner(channel, obj, auth);
        return;
    } else if (needs_auth(kind)) {
        std::string to_sign = auth::channel_string_to_sign(socket_id(), channel);
        if (core::status signed_ok = check_signature(auth, to_sign, channel); !signed_ok) {
            send(subscription_error(channel, "AuthError", signed_ok.message(), 401));
            return;
        }
        authorized_ = true;
    }
    if (ctx_.io().bridge() >= 0) {
        // In a cluster the answer waits until Redis counts the subscription, so a client (or the
        // app it tells) asking any node about the channel right after sees it occupied.
        join_local(channel, {}, true);
        return;
    }
    join_local(channel, {});
    send(subscription_succeeded(channel));
    replay_missed(channel);
    if (is_cache(kind)) {
        request_cached_event(channel);
    }
}

void session::replay_missed(std::string_view channel) {
    for (net::frame_ref& f : ctx_.missed_events(app_, channel)) {
        send(std::move(f));
    }
}

bool session::may_join_user_channel(std::string_view channel) {
    const std::string& me = view().user_id;
    if (me.empty() || channel.substr(16) != me) {
        ctx_.stats().auth_failed(auth_failure::not_signed_in);
        send(subscription_error(channel, "AuthError",
                                me.empty()
                                    ? "Sign in (pusher:signin) before subscribing to " + std::string(channel)
                                    : "Signed in as " + me + ", not allowed on " + std::string(channel),
                                403));
        return false;
    }
    return true;
}

void session::ask_presence_owner(std::string_view channel_view, simdjson::dom::object obj,
                                 std::string_view auth) {
    const config::app& a = ctx_.app(app_);
    // When the subscribe's data came as a JSON string, the channel name lives in the scratch
    // parser's document, which parsing channel_data below reuses: keep a copy.
    const std::string channel(channel_view);
    std::string socket = socket_id();
    std::string_view channel_data;
    bool has_channel_data = !obj["channel_data"].get_string().get(channel_data);
    member_data member;
    core::status signed_ok;
    if (has_channel_data) {
        signed_ok =
            check_signature(auth, auth::channel_string_to_sign(socket, channel, channel_data), channel);
        if (signed_ok) {
            member = parse_channel_data(ctx_.scratch_json(), channel_data, a);
        }
    } else if (!view().user_id.empty()) {
        // pusher-js lets a signed-in user join without channel_data; the member is the
        // signed-in user and the signature covers socket_id:channel only.
        signed_ok = check_signature(auth, auth::channel_string_to_sign(socket, channel), channel);
        member.user_id = view().user_id;
        member.user_info = view().user_info;
    } else {
        signed_ok = core::failure("Subscription to " + std::string(channel) +
                                  " needs channel_data (with user_id) from your auth endpoint");
    }
    if (!signed_ok) {
        send(subscription_error(channel, "AuthError", signed_ok.message(), 401));
        return;
    }
    if (!member.error.empty()) {
        send(subscription_error(channel, "InvalidChannelData", member.error, 400));
        return;
    }
    more().pending_presence.emplace_back(std::string(channel), member.user_id);
    auto join = std::make_unique<presence_join_mail>();
    join->app = app_;
    join->channel = std::string(channel);
    join->user_id = std::move(member.user_id);
    join->user_info = std::move(member.user_info);
    join->socket = key_;
    join->reply_to = ctx_.io().index();
    ctx_.io().post(ctx_.owner_of(app_, channel), std::move(join));
}

void session::on_presence_joined(const presence_joined_mail& m) {
    auto& pending = more().pending_presence;
    auto it = std::find_if(pending.begin(), pending.end(),
                           [&](const auto& p) { return p.first == m.channel && p.second == m.user_id; });
    if (it == pending.end()) {
        // Unsubscribed while the owner was answering: undo the join there.
        if (m.error.empty()) {
            auto leave = std::make_unique<presence_leave_mail>();
            leave->app = app_;
            leave->channel = m.channel;
            leave->user_id = m.user_id;
            ctx_.io().post(ctx_.owner_of(app_, m.channel), std::move(leave));
        }
        return;
    }
    pending.erase(it);
    if (!m.error.empty()) {
        send(subscription_error(m.channel, "LimitReached", m.error, 403));
        return;
    }
    authorized_ = true;
    join_local(m.channel, m.user_id);
    send(subscription_succeeded(m.channel, m.presence_data));
    replay_missed(m.channel);
    if (kind_of(m.channel) == channel_kind::presence_cache) {
        request_cached_event(m.channel);
    }
}

void session::request_cached_event(std::string_view channel) {
    auto get = std::make_unique<cache_get_mail>();
    get->app = app_;
    get->channel = std::string(channel);
    get->socket = key_;
    get->reply_to = ctx_.io().index();
    ctx_.io().post(ctx_.keeper_of(app_, channel), std::move(get));
}

void session::on_cache_reply(const cache_reply_mail& m) {
    if (find_subscription(m.channel) == nullptr) {
        return; // left in the meantime
    }
    if (m.frame) {
        send(m.frame);
    } else {
        send(cache_miss(m.channel));
    }
}

void session::handle_unsubscribe(simdjson::dom::element data) {
    std::string copy;
    simdjson::dom::object obj;
    std::string_view channel;
    if (!detail::data_object(data, ctx_.scratch_json(), copy, obj) ||
        obj["channel"].get_string().get(channel)) {
        send_error("pusher:unsubscribe needs data.channel (a string)");
        return;
    }
    if (more_) {
        std::erase_if(more_->pending_presence, [&](const auto& p) { return p.first == channel; });
    }
    for (size_t i = 0; i < subs_.size(); ++i) {
        if (subs_[i].channel->name == channel) {
            console_note(console_kind::unsubscribed, channel);
            unsubscribe_at(i);
            return;
        }
    }
}

void session::unsubscribe_at(size_t i) {
    subscription s = std::move(subs_[i]);
    if (i + 1 != subs_.size()) {
        subs_[i] = std::move(subs_.back());
    }
    subs_.pop_back();
    std::string channel = s.channel->name;
    std::string user;
    if (more_) {
        auto& joined = more_->presence_users;
        for (size_t k = 0; k < joined.size(); ++k) {
            if (joined[k].first == s.channel) {
                user = std::move(joined[k].second);
                joined.erase(joined.begin() + static_cast<std::ptrdiff_t>(k));
                break;
            }
        }
    }
    ctx_.leave(*s.channel, s.index); // may free the local channel
    unsigned owner = ctx_.owner_of(app_, channel);
    if (!user.empty()) {
        auto leave = std::make_unique<presence_leave_mail>();
        leave->app = app_;
        leave->channel = channel;
        leave->user_id = std::move(user);
        ctx_.io().post(owner, std::move(leave));
    }
    auto delta = std::make_unique<subscription_delta_mail>();
    delta->app = app_;
    delta->channel = std::move(channel);
    delta->delta = -1;
    ctx_.io().post(owner, std::move(delta));
}

} // namespace ringcast::pusher
