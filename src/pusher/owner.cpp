// Owner-side handling of presence, cache channels, subscription counts and watchlists.
#include "ringcast/pusher/owner.h"

#include "ringcast/core/json_writer.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"

#include <memory>

namespace ringcast::pusher {

namespace {
// Above this many subscribers, counts go out at most every 5 s (Pusher's documented rule), so a
// big channel's churn does not turn into a broadcast storm.
constexpr std::uint32_t count_throttle_threshold = 100;
constexpr std::uint64_t count_throttle_ms = 5000;

} // namespace

std::string owner_state::key(std::uint32_t app, std::string_view name) {
    std::string k = std::to_string(app);
    k += ':';
    k += name;
    return k;
}

std::pair<std::uint32_t, std::string> owner_state::split_key(const std::string& k) {
    size_t colon = k.find(':');
    return {static_cast<std::uint32_t>(std::stoul(k.substr(0, colon))), k.substr(colon + 1)};
}

bool owner_state::clustered() const noexcept {
    return ctx_.io().bridge() >= 0;
}

void owner_state::to_bridge(std::unique_ptr<mail> m) {
    ctx_.io().post(static_cast<unsigned>(ctx_.io().bridge()), std::move(m));
}

owner_state::channel_state* owner_state::find(std::uint32_t app, std::string_view channel) {
    auto it = channels_.find(key(app, channel));
    return it == channels_.end() ? nullptr : &it->second;
}

void owner_state::forget_if_idle(std::uint32_t app, const std::string& channel) {
    auto it = channels_.find(key(app, channel));
    if (it != channels_.end() && it->second.subscriptions == 0 && it->second.members.empty() &&
        !it->second.cached) {
        channels_.erase(it);
    }
}

void owner_state::report(config::webhook_kind kind, std::uint32_t app, const std::string& channel,
                         std::string_view user_id) {
    if (ctx_.wants_webhook(app, kind)) {
        webhook::event ev;
        ev.kind = kind;
        ev.app = app;
        ev.channel = channel;
        ev.user_id = user_id;
        ctx_.emit_webhook(std::move(ev));
    }
}

void owner_state::report_occupancy(std::uint32_t app, const std::string& channel, channel_state& st) {
    bool occupied = st.subscriptions > 0 || !st.members.empty();
    if (occupied != st.occupied) {
        st.occupied = occupied;
        core::counter& owned = ctx_.stats().channels[static_cast<std::size_t>(kind_of(channel))];
        occupied ? owned.add() : owned.sub();
        report(occupied ? config::webhook_kind::channel_occupied : config::webhook_kind::channel_vacated, app,
               channel);
    }
}

// Subscription counts go to subscribers (the app's subscription_count setting) and to webhooks
// (a target asking for subscription_count), under one throttle; never for presence channels.
bool owner_state::counts_wanted(std::uint32_t app, std::string_view channel) const {
    return !is_presence(kind_of(channel)) &&
           (ctx_.app(app).subscription_count ||
            ctx_.wants_webhook(app, config::webhook_kind::subscription_count));
}

void owner_state::send_count(std::uint32_t app, const std::string& channel, channel_state& st) {
    st.count_dirty = false;
    st.count_sent_ms = ctx_.io().now_ms();
    if (ctx_.app(app).subscription_count) {
        ctx_.publish(app, channel, subscription_count(channel, st.subscriptions), {});
    }
    if (ctx_.wants_webhook(app, config::webhook_kind::subscription_count)) {
        webhook::event ev;
        ev.kind = config::webhook_kind::subscription_count;
        ev.app = app;
        ev.channel = channel;
        ev.subscription_count = st.subscriptions;
        ctx_.emit_webhook(std::move(ev));
    }
}

void owner_state::on_subscription_delta(const subscription_delta_mail& m) {
    channel_state& st = channels_[key(m.app, m.channel)];
    st.subscriptions = static_cast<std::uint32_t>(static_cast<std::int64_t>(st.subscriptions) + m.delta);
    if (clustered()) {
        // Occupancy, counts and their webhooks are the cluster's: Redis sums the nodes' counts.
        auto count = std::make_unique<node_count_mail>();
        count->app = m.app;
        count->channel = m.channel;
        count->count = st.subscriptions;
        if (m.ack_socket != 0) {
            count->acks.emplace_back(m.ack_shard, m.ack_socket);
        }
        to_bridge(std::move(count));
        forget_if_idle(m.app, m.channel);
        return;
    }
    report_occupancy(m.app, m.channel, st);
    if (counts_wanted(m.app, m.channel) && st.subscriptions > 0) {
        if (st.subscriptions <= count_throttle_threshold ||
            ctx_.io().now_ms() >= st.count_sent_ms + count_throttle_ms) {
            send_count(m.app, m.channel, st);
        } else {
            st.count_dirty = true;
        }
    }
    forget_if_idle(m.app, m.channel);
}

std::string owner_state::presence_data(const channel_state& st) const {
    std::vector<std::pair<std::string_view, std::string_view>> members;
    members.reserve(st.members.size());
    for (const auto& [id, mem] : st.members) {
        members.emplace_back(id, mem.info);
    }
    return pusher::presence_data(members);
}

void owner_state::on_presence_join(const presence_join_mail& m) {
    channel_state& st = channels_[key(m.app, m.channel)];
    const config::app& a = ctx_.app(m.app);
    auto reply = std::make_unique<presence_joined_mail>();
    reply->app = m.app;
    reply->channel = m.channel;
    reply->socket = m.socket;
    reply->user_id = m.user_id;
    auto it = st.members.find(m.user_id);
    bool first_connection = it == st.members.end();
    if (first_connection && st.members.size() >= a.max_presence_members) {
        reply->error = "Presence channel " + m.channel + " is full: it has the maximum of " +
                       std::to_string(a.max_presence_members) + " members";
        ctx_.io().post(m.reply_to, std::move(reply));
        forget_if_idle(m.app, m.channel);
        return;
    }
    if (first_connection) {
        it = st.members.emplace(m.user_id, member{m.user_info, 0}).first;
    } else {
        it->second.info = m.user_info; // the latest auth wins, as with hosted Pusher
    }
    ++it->second.connections;
    // The joiner's shard subscribes locally only when the reply arrives, so its "subscribers
    // again" would come after broadcasts this owner makes meanwhile: stop skipping it now.
    ctx_.routes().unskip(m.app, m.channel, m.reply_to);
    if (clustered()) {
        // The member list and the member_added decision are the cluster's (the bridge answers
        // the joiner); a full channel was refused above already when this node alone fills it.
        auto join = std::make_unique<node_presence_mail>();
        join->first_on_node = first_connection;
        join->app = m.app;
        join->channel = m.channel;
        join->user_id = m.user_id;
        join->user_info = m.user_info;
        join->socket = m.socket;
        join->joiner = m.reply_to;
        join->owner = ctx_.io().index();
        to_bridge(std::move(join));
        return;
    }
    reply->presence_data = presence_data(st);
    // The reply goes first: through the same FIFO queue it reaches the joiner's shard before
    // the member_added broadcast below, which excludes the joiner anyway.
    ctx_.io().post(m.reply_to, std::move(reply));
    if (first_connection) {
        report_occupancy(m.app, m.channel, st);
        report(config::webhook_kind::member_added, m.app, m.channel, m.user_id);
        announce_added(m.app, m.channel, m.user_id, m.user_info, m.socket);
    }
}

void owner_state::announce_added(std::uint32_t app, const std::string& channel, const std::string& user_id,
                                 const std::string& user_info, socket_key except) {
    ctx_.publish(app, channel, member_added(channel, user_id, user_info), except);
}

void owner_state::announce_removed(std::uint32_t app, const std::string& channel,
                                   const std::string& user_id) {
    ctx_.publish(app, channel, member_removed(channel, user_id), {});
}

void owner_state::on_presence_leave(const presence_leave_mail& m) {
    channel_state* st = find(m.app, m.channel);
    if (st == nullptr) {
        return;
    }
    auto it = st->members.find(m.user_id);
    if (it == st->members.end()) {
        return;
    }
    if (--it->second.connections == 0) {
        st->members.erase(it);
        if (clustered()) {
            auto leave = std::make_unique<node_presence_mail>();
            leave->join = false;
            leave->app = m.app;
            leave->channel = m.channel;
            leave->user_id = m.user_id;
            leave->owner = ctx_.io().index();
            to_bridge(std::move(leave));
            forget_if_idle(m.app, m.channel);
            return;
        }
        announce_removed(m.app, m.channel, m.user_id);
        report(config::webhook_kind::member_removed, m.app, m.channel, m.user_id);
        report_occupancy(m.app, m.channel, *st);
    }
    forget_if_idle(m.app, m.channel);
}

void owner_state::on_cache_set(const cache_set_mail& m) {
    channel_state& st = channels_[key(m.app, m.channel)];
    if (st.cached && m.published_ns < st.cached_ns) {
        return; // an older event that came through a slower queue
    }
    st.cached_ns = m.published_ns;
    st.miss_reported = false;
    st.cached = m.frame;
    st.cached_data = m.data;
    st.cache_expires_ms = ctx_.io().now_ms() + ctx_.app(m.app).cache_ttl_s * 1000ULL;
}

void owner_state::on_cache_get(const cache_get_mail& m) {
    auto reply = std::make_unique<cache_reply_mail>();
    reply->app = m.app;
    reply->channel = m.channel;
    reply->socket = m.socket;
    channel_state* st = find(m.app, m.channel);
    bool hit = st != nullptr && st->cached && ctx_.io().now_ms() < st->cache_expires_ms;
    if (hit) {
        reply->frame = st->cached;
    }
    ctx_.io().post(m.reply_to, std::move(reply));
    if (!hit && ctx_.wants_webhook(m.app, config::webhook_kind::cache_miss)) {
        // One cache_miss per empty spell of the channel, however many subscribers find it empty.
        channel_state& empty = channels_[key(m.app, m.channel)];
        if (!empty.miss_reported) {
            empty.miss_reported = true;
            report(config::webhook_kind::cache_miss, m.app, m.channel);
        }
        forget_if_idle(m.app, m.channel);
    }
}

void owner_state::notify_watchers(std::uint32_t, const std::string& user_id, const user_state& u,
                                  bool online) {
    for (const auto& [shard, socket] : u.watchers) {
        auto note = std::make_unique<watch_status_mail>();
        note->socket = socket;
        (online ? note->online : note->offline).push_back(user_id);
        ctx_.io().post(shard, std::move(note));
    }
}

void owner_state::on_user_presence(const user_presence_mail& m) {
    std::string k = key(m.app, m.user_id);
    user_state& u = users_[k];
    std::uint32_t before = u.connections;
    u.connections = static_cast<std::uint32_t>(static_cast<std::int64_t>(u.connections) + m.delta);
    bool came = before == 0 && u.connections > 0;
    if (came || (before > 0 && u.connections == 0)) {
        if (clustered()) {
            // Online or offline is the cluster's to say (the bridge tells the watchers' owners).
            auto status = std::make_unique<user_status_mail>();
            status->app = m.app;
            status->user_id = m.user_id;
            status->online = came;
            to_bridge(std::move(status));
        } else {
            notify_watchers(m.app, m.user_id, u, came);
        }
    }
    if (u.connections == 0 && u.watchers.empty()) {
        users_.erase(k);
    }
}

void owner_state::on_watch(const watch_mail& m) {
    auto status = std::make_unique<watch_status_mail>();
    status->socket = m.socket;
    for (const std::string& id : m.user_ids) {
        std::string k = key(m.app, id);
        user_state& u = users_[k];
        if (m.add) {
            u.watchers.emplace_back(m.watcher_shard, m.socket);
            (u.connections > 0 ? status->online : status->offline).push_back(id);
        } else {
            std::erase(u.watchers, std::pair<unsigned, socket_key>(m.watcher_shard, m.socket));
            if (u.connections == 0 && u.watchers.empty()) {
                users_.erase(k);
            }
        }
    }
    if (m.add && clustered()) {
        auto ask = std::make_unique<watch_query_mail>();
        ask->app = m.app;
        ask->user_ids = m.user_ids;
        ask->socket = m.socket;
        ask->watcher_shard = m.watcher_shard;
        ask->owner = ctx_.io().index();
        to_bridge(std::move(ask));
    } else if (m.add) {
        ctx_.io().post(m.watcher_shard, std::move(status));
    }
}

void owner_state::on_user_status(const user_status_mail& m) {
    if (auto it = users_.find(key(m.app, m.user_id)); it != users_.end()) {
        notify_watchers(m.app, m.user_id, it->second, m.online);
    }
}

void owner_state::on_watch_query(const watch_query_mail& m) {
    auto status = std::make_unique<watch_status_mail>();
    status->socket = m.socket;
    for (const std::string& id : m.user_ids) {
        auto it = users_.find(key(m.app, id));
        bool online = it != users_.end() && it->second.connections > 0;
        (online ? status->online : status->offline).push_back(id);
    }
    ctx_.io().post(m.watcher_shard, std::move(status));
}

void owner_state::on_tick(std::uint64_t now_ms) {
    for (auto it = channels_.begin(); it != channels_.end();) {
        channel_state& st = it->second;
        if (st.cached && now_ms >= st.cache_expires_ms) {
            st.cached = net::frame_ref();
            st.cached_data.clear();
        }
        if (st.count_dirty && now_ms >= st.count_sent_ms + count_throttle_ms) {
            auto [app, channel] = split_key(it->first);
            send_count(app, channel, st);
        }
        if (st.subscriptions == 0 && st.members.empty() && !st.cached) {
            it = channels_.erase(it);
        } else {
            ++it;
        }
    }
}

void owner_state::on_dump_request(const node_dump_request_mail& m) {
    auto dump = std::make_unique<node_dump_mail>();
    dump->generation = m.generation;
    for (const auto& [k, st] : channels_) {
        if (st.subscriptions == 0 && st.members.empty()) {
            continue;
        }
        auto [app, channel] = split_key(k);
        if (st.subscriptions > 0) {
            dump->counts.push_back({app, channel, st.subscriptions});
        }
        for (const auto& [id, mem] : st.members) {
            dump->members.push_back({app, channel, id, mem.info});
        }
    }
    for (const auto& [k, u] : users_) {
        if (u.connections > 0) {
            dump->users.push_back(split_key(k));
        }
    }
    to_bridge(std::move(dump));
}

channel_summary owner_state::summarize(std::uint32_t app, const std::string& channel) {
    channel_summary out;
    out.name = channel;
    if (channel_state* st = find(app, channel)) {
        out.subscriptions = st->subscriptions;
        out.users = static_cast<std::uint32_t>(st->members.size());
        std::uint64_t now = ctx_.io().now_ms();
        if (st->cached && now < st->cache_expires_ms) {
            out.has_cache = true;
            out.cache_data = st->cached_data;
            out.cache_ttl_s = static_cast<std::uint32_t>((st->cache_expires_ms - now + 999) / 1000);
        }
    }
    return out;
}

void owner_state::list(std::uint32_t app, std::string_view prefix, std::vector<channel_summary>& out,
                       bool internal) {
    std::string app_prefix = key(app, "");
    for (const auto& [k, st] : channels_) {
        if (st.subscriptions == 0 || !k.starts_with(app_prefix)) {
            continue; // only occupied channels are listed
        }
        std::string_view name = std::string_view(k).substr(app_prefix.size());
        if (!name.starts_with(prefix) || (name.starts_with('#') && !internal)) {
            continue; // '#' channels are internal (server-to-user), not the app's to list
        }

        channel_summary s;
        s.name = std::string(name);
        s.subscriptions = st.subscriptions;
        s.users = static_cast<std::uint32_t>(st.members.size());
        out.push_back(std::move(s));
    }
}

void owner_state::member_ids(std::uint32_t app, const std::string& channel, std::vector<std::string>& out) {
    if (channel_state* st = find(app, channel)) {
        for (const auto& [id, m] : st->members) {
            out.push_back(id);
        }
    }
}

} // namespace ringcast::pusher
