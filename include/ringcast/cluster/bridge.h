// Several nodes as one server, over Redis: the bridge is a thread of each node, with its own
// ring and two Redis connections (one publishes, one subscribes), joined to the shards' mail
// queues as one more endpoint (shard_group's bridge). What a shard broadcasts for the whole
// cluster (context::broadcast: HTTP API events and client events) reaches it as share_mail and
// goes out with one PUBLISH on {prefix}:broadcast; what comes back from the subscription, from
// any node, goes to every local shard as the publish_mail a local publish sends, one frame
// shared by all of them, with the excluded socket (toOthers) left out wherever it is.
//
// Order: every node delivers in the one order Redis gives the channel, its own broadcasts
// included (they are delivered when their echo comes back), and an HTTP API publish is answered
// only once Redis has acknowledged it. So a publisher that waits for each answer sees its events
// in order on every node, whichever node each request reached. If an echo does not come back
// within echo_wait_ms (a stalled Redis), the event is delivered locally anyway and its late echo
// skipped: a stall delays local delivery by at most that, never stops it.
//
// Redis down: the bridge says so (shared_counters::redis_down), reconnects with backoff,
// re-subscribes, and the HTTP API refuses publishes meanwhile rather than answer 200 for events
// the other nodes will never see. Local delivery goes on.
//
// Shared state (shared_state.cpp, presence.cpp, users.cpp; the Redis side in scripts.cpp): the
// owner shards hand the bridge their node-level changes (cluster_mail.h: a user's first and last
// connection here on a presence channel, the node's count of a channel's subscribers, who signs
// in and out), which it applies to Redis with scripts that decide the cluster-level transitions
// once; what those announce comes back on {prefix}:broadcast to every node, and what is for this
// node alone (a presence join's member list, a channel's webhooks when this node sends them, a
// resync's member lists) on its own channel, {prefix}:node:{id}, behind every announcement made
// before it. The HTTP API's channel questions, its rate checks and the admission of connections
// under max_connections are answered from Redis too (the shards wait; the bridge never blocks).
//
// Presence views (presence.cpp): per presence channel with subscribers here, the members this
// node's clients were told of; member events pass through them (none delivered twice), joins
// are decided from them while Redis is away, and after a reconnect they are put right from Redis.
//
// Every heartbeat_ms the bridge renews the node's lease in Redis, reaps the nodes whose lease ran
// out (their members leave, their counts and connections go) and hands on the webhooks whose
// de-bounce delay is over. After a reconnect, or when Redis no longer knows the node, it asks
// every shard for the node's state and rebuilds its share in one script, holding new changes
// until then. A clean stop removes the node's share at once.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/core/metrics.h"
#include "ringcast/net/ring.h"
#include "ringcast/pusher/cluster_mail.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/query.h"
#include "ringcast/pusher/shared_counters.h"
#include "ringcast/redis/connection.h"
#include "ringcast/shard/shard.h"
#include "ringcast/webhook/event.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ringcast::cluster {

struct scripts;
struct parsed_envelope;
struct state_event;
struct script;

// What crosses between this node and the others, for the metrics scrape (the bridge's thread
// writes, core/metrics.h).
struct metrics {
    core::counter published;  // broadcasts sent to Redis for every node
    core::counter received;   // broadcasts from other nodes, handed to the shards
    core::counter local_only; // client events that reached this node only (Redis down)
    core::counter link_lost;  // times the Redis link went down after being up
};

class bridge final : private pusher::bridge_handler {
public:
    // How often a node renews its lease, and how long a lease lasts: a node that stops renewing
    // (killed, cut off from Redis) has its members, counts and connections removed by another
    // node within lease_ms + heartbeat_ms.
    static constexpr std::uint64_t heartbeat_ms = 250;
    static constexpr std::uint64_t lease_ms = 5000;
    // A presence join that Redis has not answered in this long is decided by the node alone.
    static constexpr std::uint64_t join_wait_ms = 5000;

    // A presence channel's members as this node's clients know them: user id -> user_info.
    using member_map = std::map<std::string, std::string, std::less<>>;

    bridge(shard::shard_group& group, const config::server& initial, pusher::shared_counters& counters,
           webhook::sink* webhooks = nullptr);
    ~bridge();
    bridge(const bridge&) = delete;
    bridge& operator=(const bridge&) = delete;

    // Starts the thread and returns once its ring exists (shards wake it through that ring).
    void start();
    void reload(const config::server* next) { next_config_.store(next, std::memory_order_release); }
    // After the shards have stopped.
    void stop();

    [[nodiscard]] const std::string& node_id() const noexcept { return node_id_; }
    // Any thread.
    [[nodiscard]] const metrics& stats() const noexcept { return stats_; }

private:
    void run();
    void loop(net::ring& r);
    void handle(std::uint64_t user_data, int res);
    void drain_shards();
    void on_message(const redis::value& v);

    // pusher::bridge_handler: what the shards hand over.
    void on_share(pusher::share_mail& m) override;
    void on_query(pusher::query_mail& m) override;
    void on_presence(pusher::node_presence_mail& m) override;
    void on_count(pusher::node_count_mail& m) override;
    void on_cache_set(pusher::cache_set_mail& m) override;
    void on_cache_get(pusher::cache_get_mail& m) override;
    void on_dump(pusher::node_dump_mail& m) override;
    void on_user(pusher::user_status_mail& m) override;
    void on_watch_query(pusher::watch_query_mail& m) override;
    void on_connections(pusher::connections_mail& m) override;
    void on_rate(pusher::rate_mail& m) override;
    void on_admit(pusher::admit_mail& m) override;
    void on_query_reply(pusher::query_reply_mail& m) override;
    struct own_event {
        std::uint64_t seq;
        std::uint64_t due_ms; // delivered locally then, echo or not
        std::uint32_t app;
        std::string channel;
        net::frame_ref frame;
        std::uint64_t except;
        bool dropped = false; // Redis refused it and its publisher was told: deliver nowhere
    };
    static constexpr std::uint64_t echo_wait_ms = 250;

    void post_to_shards(std::uint32_t app, std::string channel, const net::frame_ref& frame,
                        std::uint64_t except);
    void post(unsigned shard, std::unique_ptr<shard::mail> m);
    void terminate_here(std::uint32_t app, const std::string& user_id);
    void acknowledge(std::uint64_t id, unsigned to, const std::string& error);
    void on_own_echo(std::uint64_t seq);
    void deliver_own_until(std::uint64_t seq);
    void deliver_overdue(std::uint64_t now_ms);
    void flush_posts(net::ring& r);
    // After either connection came up or went down (pub_up_/sub_up_ set): tells the shards and the log.
    void on_redis(const std::string& why);
    void subscribe();

    // Shared state (shared_state.cpp).
    struct pending_join {
        pusher::node_presence_mail change;
        std::uint64_t due_ms;
    };
    struct count_throttle {
        std::uint64_t sent_ms = 0;
        std::uint32_t waiting = 0; // a count held back by the throttle (0: none)
    };
    bool eval(const script& s, std::vector<std::string> args, redis::connection::reply_fn reply);
    void load_scripts();
    void tick_state(std::uint64_t now_ms);
    void on_tick_reply(const redis::value& v);
    void start_restore();
    // A clean stop: the node's share leaves Redis now rather than when its lease runs out.
    void retire(net::ring& r);
    void finish_restore();
    void decide_alone(const pusher::node_presence_mail& change);
    void on_joined(std::string_view text);
    void on_member_event(const state_event& e, std::uint32_t app);
    void settle_view(std::uint32_t app, const std::string& channel, const member_map& members);
    void forget_view(std::uint32_t app, const std::string& channel);
    void resync_views();
    void on_view_sync(std::string_view text);
    void on_state_event(const state_event& e, std::uint32_t app);
    void flush_node_count(std::uint32_t app, const std::string& channel);
    void flush_node_counts();
    struct pending_count;
    void send_node_count(const std::string& key, pending_count pending);
    void deliver_count(std::uint32_t app, const std::string& channel, std::uint32_t count,
                       std::uint64_t now_ms);
    void flush_counts(std::uint64_t now_ms);
    void emit_webhooks(const redis::value& events);
    void emit_webhook(std::string_view text);
    void send_connections(std::uint64_t now_ms);
    // Sends the Redis command that answers an HTTP API question; false when it could not.
    bool ask(const pusher::query_mail& q, redis::connection::reply_fn answer);
    [[nodiscard]] int app_index(std::string_view id) const;
    [[nodiscard]] std::string debounce_arg() const;

    shard::shard_group& group_;
    pusher::shared_counters& counters_;
    std::atomic<const config::server*> next_config_;
    const config::server* config_;
    config::redis_settings settings_;
    std::string node_id_;
    std::string channel_; // {prefix}:broadcast
    std::unique_ptr<net::tls_context> tls_;
    std::unique_ptr<redis::connection> pub_;
    std::unique_ptr<redis::connection> sub_;
    bool pub_up_ = false;
    bool sub_up_ = false;
    bool reported_down_ = false;
    bool was_up_ = false; // both connections, as of the last on_redis
    metrics stats_;

    // Mail to shards that did not fit their queue yet, per shard (kept in order).
    std::vector<std::vector<shard::mail*>> spill_;
    std::vector<bool> wake_;
    std::uint64_t seq_ = 0;           // of this node's broadcasts, in PUBLISH order
    std::uint64_t delivered_seq_ = 0; // own broadcasts up to this one are delivered here
    std::deque<own_event> own_;       // published, waiting for their echo
    std::uint64_t dropped_ = 0;       // broadcasts that could not be published (Redis down)
    std::uint64_t refused_ = 0;       // messages from Redis that were not ours to deliver

    webhook::sink* webhooks_;
    std::unique_ptr<scripts> scripts_;
    std::string node_channel_; // {prefix}:node:{id}: answers to this node's presence joins
    std::uint64_t next_token_ = 1;
    std::unordered_map<std::uint64_t, pending_join> joins_; // by token
    // What this node's clients were told of each presence channel they subscribe ("app\nchannel"),
    // and whether it is to be checked against Redis (after a reconnect).
    std::unordered_map<std::string, member_map> views_;
    bool resync_due_ = false;
    // After a reconnect the other nodes rebuild their shares in Redis in their own time (each
    // reconnects within its backoff, 5 s at most): until then Redis's member lists may lack
    // their members, so the views only gain members; one more resync then lets them lose some.
    std::uint64_t partial_until_ms_ = 0;
    bool final_resync_due_ = false;
    void on_reconnected();
    std::uint64_t next_tick_ms_ = 0;
    bool tick_in_flight_ = false;
    // Rebuilding the node's share: the dump generation asked for, shards yet to answer, what
    // they sent, and the changes that arrived meanwhile (applied after, in order).
    bool restoring_ = false;
    std::uint64_t dump_generation_ = 0;
    unsigned dumps_waiting_ = 0;
    std::vector<pusher::node_dump_mail> dumps_;
    std::vector<std::unique_ptr<pusher::mail>> held_;
    std::unordered_map<std::string, count_throttle> counts_; // "app\nchannel", for subscription_count
    // This node's latest subscriber counts not yet sent to Redis, by "app\nchannel" (sent after
    // each drain of the shards' queues).
    struct pending_count {
        std::uint32_t count = 0;
        std::vector<std::pair<unsigned, pusher::socket_key>> acks; // subscribers waiting for it
    };
    std::unordered_map<std::string, pending_count> node_counts_;
    // This node's connections: a change waits to be sent, and when they were last sent.
    // Sends are earned one per connections_gap_ms, up to connections_burst at once: a change now
    // and then goes at once (GET /connections on another node reads what was sent), a storm of
    // connects becomes one script call per gap.
    static constexpr std::uint64_t connections_gap_ms = 5;
    static constexpr std::uint64_t connections_burst = 8;
    std::uint64_t connections_allowance_ = connections_burst;
    bool connections_due_ = false;
    std::uint64_t connections_sent_ms_ = 0;

    // The debug console across nodes (console.cpp): a node with a console page open for an app
    // says so on the broadcast channel every second; the other nodes then record the app's
    // events (one console_watchers count), poll their shards every second and send their part
    // to the watching node's channel, where it waits for the page's next poll.
    struct remote_part {
        std::string connections, channels;
        std::uint64_t connection_count = 0;
        std::uint64_t at_ms = 0;
    };
    struct console_state {
        std::uint64_t watched_here_until = 0; // a page on this node polled lately
        std::uint64_t watch_sent_ms = 0;
        std::map<std::string, std::uint64_t, std::less<>> watchers; // other nodes' pages: until when
        bool counted = false;                                       // our console_watchers count for them
        bool polling = false;
        unsigned awaiting = 0;
        std::uint64_t polled_ms = 0;
        std::vector<std::uint64_t> cursors; // per shard
        pusher::console_part gathered;
        std::map<std::string, remote_part, std::less<>> remote;   // by node
        std::deque<std::pair<std::uint64_t, std::string>> events; // (sequence, JSON items)
        std::uint64_t next_seq = 0;
        std::uint64_t dropped = 0;
    };
    void on_console_query(pusher::query_mail& q);
    void on_console_watch(std::uint32_t app, std::string_view node);
    void on_console_part(std::string_view text);
    void tick_console(std::uint64_t now_ms);
    void poll_console_shards(std::uint32_t app, console_state& st);
    void send_console_part(std::uint32_t app, console_state& st);
    std::unordered_map<std::uint32_t, console_state> console_;

    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_{false};
    std::atomic<bool> start_failed_{false};
    int stop_fd_ = -1; // the bridge's ring fd, for stop()'s wake-up
    std::thread thread_;
};

} // namespace ringcast::cluster
