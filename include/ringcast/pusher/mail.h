// What the Pusher layer sends between shards. Each channel (and each signed-in user) has an
// owner shard, chosen by hash, that holds its authoritative cross-shard state; the other shards
// talk to it with these messages and it answers through the same queues. Queues are FIFO per
// pair of shards, which is what keeps, for example, a presence join's reply ahead of the
// member_added broadcast that follows it.
#pragma once

#include "ringcast/net/frame.h"
#include "ringcast/pusher/socket_id.h"
#include "ringcast/shard/mail.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::config {
struct server;
}

namespace ringcast::pusher {

class context;
class bridge_handler;

// Every kind of mail the Pusher layer sends. The receiving shard calls deliver() on its own
// context; each kind says there where it goes (mail.cpp), so a new kind that forgets to is an
// abstract class and does not compile, instead of being dropped by a receiver that did not
// expect it (the way Seastar dispatches cross-core messages). The kinds the Redis bridge takes
// (cluster_mail.h) also say where they go there, through to_bridge(); the rest never reach it.
struct mail : shard::mail {
    virtual void deliver(context& at) = 0;
    virtual void to_bridge(bridge_handler&) {}
};

// A broadcast for the other nodes, to the bridge (never to a context): the same frame the local
// shards deliver, with the app and the socket to leave out.
struct share_mail final : mail {
    void deliver(context&) override {}
    void to_bridge(bridge_handler& b) override;
    std::uint32_t app = 0;
    std::string channel;
    net::frame_ref frame;
    socket_key except = 0;
    // Non-zero: answer with a query_reply_mail of this id to shard ack_to once Redis has the
    // event (an HTTP API publish waits for it before its 200, which is what keeps a publisher's
    // events in order on every node whichever node each request reached).
    std::uint64_t ack_id = 0;
    unsigned ack_to = 0;
    // Non-empty: not an event but "close this user's connections" (terminate_connections) for
    // the other nodes; this one does it through its own shards.
    std::string terminate_user;
};

// A frame to deliver to a channel's local subscribers (the frame is shared, not copied).
struct publish_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    net::frame_ref frame;
    socket_key except = 0;
    // The publishing shard, told when nobody here subscribes (publish_routes.h); -1 from the
    // Redis bridge, which is never told.
    int from = -1;
};

// -> a publishing shard: the sender has no subscriber of the channel; leave it out of the
// channel's publishes until a subscribers_again_mail (publish_routes.h).
struct no_subscribers_mail final : mail {
    void deliver(context& at) override;
    unsigned from = 0;
    std::uint32_t app = 0;
    std::string channel;
};

// -> a publishing shard told "no subscribers" before: the sender has one now.
struct subscribers_again_mail final : mail {
    void deliver(context& at) override;
    unsigned from = 0;
    std::uint32_t app = 0;
    std::string channel;
};

// -> every other shard: forget every "no subscribers" the sender said (its table was full).
struct disclaims_reset_mail final : mail {
    void deliver(context& at) override;
    unsigned from = 0;
};

// -> owner: a shard gained (+1) or lost (-1) a local subscriber of a channel.
struct subscription_delta_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    std::int32_t delta = 0;
    // In a cluster: the subscriber waiting for its subscription_succeeded until the cluster
    // counts it (ack_socket 0: nobody waits).
    socket_key ack_socket = 0;
    unsigned ack_shard = 0;
};

// -> owner: a connection asks to join a presence channel as `user_id`.
struct presence_join_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    std::string user_id;
    std::string user_info; // JSON text ("null" when absent)
    socket_key socket = 0;
    unsigned reply_to = 0;
};

// owner -> joiner's shard: the answer to presence_join_mail.
struct presence_joined_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    socket_key socket = 0;
    std::string user_id;
    std::string presence_data; // the subscription_succeeded data (JSON text), or "" if refused
    std::string error;         // why it was refused
};

// -> owner: one connection of `user_id` left a presence channel.
struct presence_leave_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    std::string user_id;
};

// -> owner (in a cluster: -> bridge, which keeps it in Redis): remember the last event
// published on a cache channel.
struct cache_set_mail final : mail {
    void deliver(context& at) override;
    void to_bridge(bridge_handler& b) override;
    std::uint32_t app = 0;
    std::string channel;
    net::frame_ref frame;
    std::string data; // the event's data string
    // When it was published: events published on different shards reach the owner through
    // different queues, so a later one may arrive first; the owner keeps the latest.
    std::uint64_t published_ns = 0;
};

// -> owner (in a cluster: -> bridge): a new subscriber of a cache channel wants the last event.
struct cache_get_mail final : mail {
    void deliver(context& at) override;
    void to_bridge(bridge_handler& b) override;
    std::uint32_t app = 0;
    std::string channel;
    socket_key socket = 0;
    unsigned reply_to = 0;
};

// owner -> subscriber's shard: the cached frame, or none (a miss).
struct cache_reply_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string channel;
    socket_key socket = 0;
    net::frame_ref frame;
};

// -> user's owner: a connection signed in as `user_id` (+1) or went away (-1).
struct user_presence_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::string user_id;
    std::int32_t delta = 0;
};

// -> user's owner: start (or stop) telling `socket_id` on `watcher_shard` about these users.
struct watch_mail final : mail {
    void deliver(context& at) override;
    std::uint32_t app = 0;
    std::vector<std::string> user_ids;
    socket_key socket = 0;
    unsigned watcher_shard = 0;
    bool add = true;
};

// user's owner -> watcher's shard: which watched users are online or offline (now, or changed).
struct watch_status_mail final : mail {
    void deliver(context& at) override;
    socket_key socket = 0;
    std::vector<std::string> online;
    std::vector<std::string> offline;
};

// main thread -> every shard (as control mail): new app settings after SIGHUP. The settings
// outlive the shards (the main thread keeps every generation).
struct reload_mail final : mail {
    void deliver(context& at) override;
    const config::server* settings = nullptr;
};

} // namespace ringcast::pusher
