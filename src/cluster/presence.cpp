// Presence across nodes, the bridge's side (see bridge.h; the Redis side is scripts.cpp).
//
// The owners hand the bridge every join and the node's last leave of a user; the scripts decide
// the cluster's member_added / member_removed and announce them on {prefix}:broadcast, and send a
// joiner's member list on this node's own channel, behind every announcement made before it.
//
// The bridge keeps a view of each presence channel this node has subscribers on: the members its
// clients have been told of. Every member event goes through it: one its clients already know is
// not delivered again (Redis re-announces members when nodes rebuild their share), and when Redis
// cannot be reached the bridge answers joins from the view and tells its own clients of its own
// node's joins and leaves. After reconnecting it asks Redis for each viewed channel's members
// (through the same ordered channel) and tells its clients the difference, so their lists
// converge with the cluster's whatever happened meanwhile.
#include "ringcast/cluster/bridge.h"

#include "envelope.h"
#include "scripts.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/pusher/messages.h"

#include <charconv>

namespace ringcast::cluster {

namespace {

std::string view_key(std::uint32_t app, std::string_view channel) {
    std::string k = std::to_string(app);
    k += '\n';
    k += channel;
    return k;
}

bool next_length(std::string_view& text, std::size_t& out, char end) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || p == text.data() + text.size() || *p != end) {
        return false;
    }
    text.remove_prefix(static_cast<std::size_t>(p - text.data()) + 1);
    return true;
}

// A member list from a script ("<#id> <#info>\n<id><info>" each, sorted by id); false when it
// is not one.
bool parse_members(std::string_view text, bridge::member_map& out) {
    while (!text.empty()) {
        std::size_t id_len = 0;
        std::size_t info_len = 0;
        if (!next_length(text, id_len, ' ') || !next_length(text, info_len, '\n') ||
            id_len + info_len > text.size()) {
            return false;
        }
        out.emplace(std::string(text.substr(0, id_len)), std::string(text.substr(id_len, info_len)));
        text.remove_prefix(id_len + info_len);
    }
    return true;
}

std::string joined_data(const bridge::member_map& members) {
    std::vector<std::pair<std::string_view, std::string_view>> list(members.begin(), members.end());
    return pusher::presence_data(list);
}

} // namespace

void bridge::on_presence(pusher::node_presence_mail& m) {
    if (restoring_) {
        held_.push_back(std::make_unique<pusher::node_presence_mail>(m));
        return;
    }
    if (m.app >= config_->apps.size()) {
        return;
    }
    const config::app& a = config_->apps[m.app];
    flush_node_count(m.app, m.channel); // a count queued before this change goes first
    if (!m.join) {
        bool sent = eval(scripts_->leave, {a.id, m.channel, m.user_id}, [this, m](const redis::value& v) {
            if (v.is_error()) {
                decide_alone(m); // this node's clients hear of it; Redis at the rebuild
                return;
            }
            emit_webhooks(v);
        });
        if (!sent) {
            decide_alone(m);
        }
        return;
    }
    std::uint64_t token = next_token_++;
    // The answer comes on the subscriber connection, so both must be up.
    bool sent = sub_up_ && eval(scripts_->join,
                                {a.id, m.channel, m.user_id, m.user_info, std::to_string(m.socket),
                                 std::to_string(a.max_presence_members), std::to_string(token)},
                                [this, token](const redis::value& v) {
                                    if (!v.is_error()) {
                                        emit_webhooks(v);
                                    } else if (auto it = joins_.find(token); it != joins_.end()) {
                                        decide_alone(it->second.change);
                                        joins_.erase(it);
                                    }
                                });
    if (!sent) {
        decide_alone(m);
        return;
    }
    joins_.emplace(token, pending_join{m, core::monotonic_ms() + join_wait_ms});
}

// Redis cannot take this change (down, too slow, or it failed): this node decides it from its
// view, as a node alone would, and Redis learns of it at the rebuild.
void bridge::decide_alone(const pusher::node_presence_mail& change) {
    if (!change.join) {
        // The user may still be on another node; the resync after reconnecting says so again.
        auto view = views_.find(view_key(change.app, change.channel));
        if (view == views_.end() || view->second.erase(change.user_id) != 0) {
            post_to_shards(change.app, change.channel, pusher::member_removed(change.channel, change.user_id),
                           0);
        }
        return;
    }
    member_map& view = views_[view_key(change.app, change.channel)];
    auto [it, added] = view.insert_or_assign(change.user_id, change.user_info);
    (void)it;
    if (added) {
        post_to_shards(change.app, change.channel,
                       pusher::member_added(change.channel, change.user_id, change.user_info), change.socket);
    }
    auto reply = std::make_unique<pusher::presence_joined_mail>();
    reply->app = change.app;
    reply->channel = change.channel;
    reply->socket = change.socket;
    reply->user_id = change.user_id;
    reply->presence_data = joined_data(view);
    post(change.joiner, std::move(reply));
}

void bridge::on_joined(std::string_view text) {
    // "rcj <token> ok\n<member list>" or "rcj <token> full\n"
    std::string_view rest = text.substr(4);
    std::uint64_t token = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), token);
    auto it = joins_.find(token);
    if (ec != std::errc() || it == joins_.end()) {
        return; // answered already (it waited too long, or the connection went)
    }
    rest = rest.substr(static_cast<std::size_t>(end - rest.data()));
    pusher::node_presence_mail j = std::move(it->second.change);
    joins_.erase(it);
    auto reply = std::make_unique<pusher::presence_joined_mail>();
    reply->app = j.app;
    reply->channel = j.channel;
    reply->socket = j.socket;
    reply->user_id = j.user_id;
    member_map members;
    if (rest.starts_with(" ok\n") && parse_members(rest.substr(4), members)) {
        // Whatever this node's clients were told differently (while Redis was away) is put right
        // first; the joiner, not subscribed yet, gets the whole list.
        settle_view(j.app, j.channel, members);
        reply->presence_data = joined_data(views_[view_key(j.app, j.channel)]);
    } else {
        std::uint32_t max = j.app < config_->apps.size() ? config_->apps[j.app].max_presence_members : 0;
        reply->error = "Presence channel " + j.channel + " is full: it has the maximum of " +
                       std::to_string(max) + " members";
        // Redis added nothing: the owner takes the connection back off this node's count.
        auto undo = std::make_unique<pusher::presence_leave_mail>();
        undo->app = j.app;
        undo->channel = j.channel;
        undo->user_id = j.user_id;
        post(j.owner, std::move(undo));
    }
    // Through the bridge's own queue to the joiner's shard, so it arrives before any member
    // event announced after the member list was read (they come after it from Redis).
    post(j.joiner, std::move(reply));
}

void bridge::on_member_event(const state_event& e, std::uint32_t app) {
    std::string channel(e.channel);
    auto view = views_.find(view_key(app, channel));
    if (e.op == 'a') {
        if (view != views_.end() &&
            !view->second.emplace(std::string(e.user), std::string(e.payload)).second) {
            return; // its clients know this member already
        }
        post_to_shards(app, channel, pusher::member_added(channel, e.user, e.payload), e.except);
    } else {
        if (view != views_.end() && view->second.erase(std::string(e.user)) == 0) {
            return; // never told, or told already
        }
        post_to_shards(app, channel, pusher::member_removed(channel, e.user), 0);
    }
}

// Makes the view `members` (only adding to it, shortly after a reconnect), telling this node's
// clients the difference.
void bridge::settle_view(std::uint32_t app, const std::string& channel, const member_map& members) {
    member_map& view = views_[view_key(app, channel)];
    if (core::monotonic_ms() >= partial_until_ms_) {
        for (auto it = view.begin(); it != view.end();) {
            if (members.contains(it->first)) {
                ++it;
                continue;
            }
            post_to_shards(app, channel, pusher::member_removed(channel, it->first), 0);
            it = view.erase(it);
        }
    }
    for (const auto& [id, info] : members) {
        auto [it, added] = view.insert_or_assign(id, info);
        (void)it;
        if (added) {
            post_to_shards(app, channel, pusher::member_added(channel, id, info), 0);
        }
    }
}

void bridge::on_reconnected() {
    resync_due_ = true;
    final_resync_due_ = true;
    partial_until_ms_ = core::monotonic_ms() + lease_ms + heartbeat_ms;
}

void bridge::forget_view(std::uint32_t app, const std::string& channel) {
    views_.erase(view_key(app, channel));
}

void bridge::resync_views() {
    resync_due_ = false;
    if (views_.empty()) {
        return;
    }
    std::vector<std::string> args;
    for (const auto& [key, view] : views_) {
        std::size_t nl = key.find('\n');
        auto app = static_cast<std::uint32_t>(std::stoul(key.substr(0, nl)));
        if (app < config_->apps.size()) {
            args.insert(args.end(), {config_->apps[app].id, key.substr(nl + 1)});
        }
    }
    (void)eval(scripts_->members, std::move(args), {});
}

void bridge::on_view_sync(std::string_view text) {
    // "rcv <#app> <#channel>\n<app><channel><member list>"
    std::string_view rest = text.substr(4);
    std::size_t app_len = 0;
    std::size_t channel_len = 0;
    member_map members;
    if (!next_length(rest, app_len, ' ') || !next_length(rest, channel_len, '\n') ||
        app_len + channel_len > rest.size() || !parse_members(rest.substr(app_len + channel_len), members)) {
        return;
    }
    int app = app_index(rest.substr(0, app_len));
    std::string channel(rest.substr(app_len, channel_len));
    if (app >= 0 && views_.contains(view_key(static_cast<std::uint32_t>(app), channel))) {
        settle_view(static_cast<std::uint32_t>(app), channel, members);
    }
}

} // namespace ringcast::cluster
