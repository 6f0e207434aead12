// What the owner shards and the Redis bridge tell each other when several nodes share state.
//
// A node's owner shards keep deciding what they always decided for the node (a channel's
// subscriber count here, a user's first and last connection here); in a cluster they hand
// those node-level changes to the bridge, which applies them to the shared state in Redis with
// scripts that decide the cluster-level transitions (a user's first connection anywhere, a
// channel's first subscriber anywhere) atomically, so each is announced once for the cluster.
// The bridge answers presence joins itself (the member list comes from Redis, or from what the
// node's clients were told when Redis cannot be reached).
#pragma once

#include "ringcast/pusher/mail.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::pusher {

struct query_mail;
struct query_reply_mail;
struct node_presence_mail;
struct node_count_mail;
struct node_dump_mail;
struct user_status_mail;
struct watch_query_mail;
struct connections_mail;
struct rate_mail;
struct admit_mail;

// The shard that tracks whether a signed-in user is online (context::user_owner_of), for the
// bridge, which has no context.
[[nodiscard]] unsigned user_owner(std::uint32_t app, std::string_view user_id, unsigned shards) noexcept;

// What the bridge does with each kind of mail it takes (mail::to_bridge dispatches here).
class bridge_handler {
public:
    virtual ~bridge_handler() = default;
    virtual void on_share(share_mail& m) = 0;
    virtual void on_query(query_mail& m) = 0;
    virtual void on_presence(node_presence_mail& m) = 0;
    virtual void on_count(node_count_mail& m) = 0;
    virtual void on_cache_set(cache_set_mail& m) = 0;
    virtual void on_cache_get(cache_get_mail& m) = 0;
    virtual void on_dump(node_dump_mail& m) = 0;
    virtual void on_user(user_status_mail& m) = 0;
    virtual void on_watch_query(watch_query_mail& m) = 0;
    virtual void on_connections(connections_mail& m) = 0;
    virtual void on_rate(rate_mail& m) = 0;
    virtual void on_admit(admit_mail& m) = 0;
    // Shards' answers to the bridge's own questions (the debug console's polls).
    virtual void on_query_reply(query_reply_mail& m) = 0;
};

// owner -> bridge: a connection joined a presence channel on this node (every join: the
// joiner's member list comes from Redis), or the user's last connection here left it.
struct node_presence_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_presence(*this); }
    bool join = true;
    bool first_on_node = false; // join: the user had no other connection here on the channel
    std::uint32_t app = 0;
    std::string channel;
    std::string user_id;
    std::string user_info; // join: JSON text
    socket_key socket = 0; // join: the joiner, left out of member_added
    unsigned joiner = 0;   // join: the joiner's shard, for presence_joined_mail
    unsigned owner = 0;    // the channel's owner shard here
};

// owner -> bridge: the number of this node's subscribers of a channel changed.
struct node_count_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_count(*this); }
    std::uint32_t app = 0;
    std::string channel;
    std::uint32_t count = 0;
    // Subscribers (shard, socket) to tell once Redis has the count (subscribed_mail).
    std::vector<std::pair<unsigned, socket_key>> acks;
};

// bridge -> a subscriber's shard: the cluster counts its subscription now (Redis has this
// node's count), so its subscription_succeeded goes out: whoever it tells, and whichever node
// they ask, sees the channel occupied.
struct subscribed_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    socket_key socket = 0;
};

// bridge -> every shard: send me what this node holds, so I can rebuild its share in Redis
// (after a reconnect, or when Redis no longer knows the node).
struct node_dump_request_mail final : mail {
    void deliver(context& at) override;
    std::uint64_t generation = 0;
};

// shard -> bridge: the node-level state of the channels this shard owns.
struct node_dump_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_dump(*this); }
    struct count {
        std::uint32_t app;
        std::string channel;
        std::uint32_t subscriptions;
    };
    struct member {
        std::uint32_t app;
        std::string channel;
        std::string user_id;
        std::string user_info;
    };
    std::uint64_t generation = 0;
    std::vector<count> counts;
    std::vector<member> members;
    std::vector<std::pair<std::uint32_t, std::string>> users; // (app, user id) signed in here
};

// owner -> bridge: a signed-in user's first connection on this node came (online) or the last
// went. bridge -> the user's owner shard: the user came online or went offline in the cluster
// (or, with Redis down, on this node): tell the user's watchers here.
struct user_status_mail final : mail {
    void deliver(context& at) override;
    void to_bridge(bridge_handler& b) override { b.on_user(*this); }
    std::uint32_t app = 0;
    std::string user_id;
    bool online = true;
};

// owner -> bridge: which of these users are online in the cluster? (a connection set its
// watchlist; the owner has registered it as a watcher already, so no change is missed). The
// bridge answers the watcher's shard with a watch_status_mail; when Redis cannot answer it hands
// the question back to the owner (deliver), which answers from this node's users.
struct watch_query_mail final : mail {
    void deliver(context& at) override;
    void to_bridge(bridge_handler& b) override { b.on_watch_query(*this); }
    std::uint32_t app = 0;
    std::vector<std::string> user_ids;
    socket_key socket = 0;
    unsigned watcher_shard = 0;
    unsigned owner = 0;
};

// shard -> bridge: this node's WebSocket connections changed (shared_counters::
// connections_changed says whether one is on its way already, so a burst sends one).
struct connections_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_connections(*this); }
};

// shard -> bridge: may the app have `amount` more read requests (or published events) this
// second, under `limit` for the whole cluster? The bridge answers with a query_reply_mail of
// this id (failed with status 429 when not).
struct rate_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_rate(*this); }
    std::uint64_t id = 0;
    unsigned reply_to = 0;
    std::uint32_t app = 0;
    bool reads = false;
    std::uint32_t amount = 0;
    std::uint32_t limit = 0;
};

// shard -> bridge: may one more connection of the app open, under its max_connections for the
// whole cluster? Answered with a query_reply_mail of this id: count 1 yes (and counted in
// Redis), 0 no; failed when Redis cannot say (the node decides alone).
struct admit_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override { b.on_admit(*this); }
    std::uint64_t id = 0;
    unsigned reply_to = 0;
    std::uint32_t app = 0;
    std::uint32_t limit = 0;
};

} // namespace ringcast::pusher
