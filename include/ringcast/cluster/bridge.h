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
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/ring.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/shared_counters.h"
#include "ringcast/redis/connection.h"
#include "ringcast/shard/shard.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ringcast::cluster {

class bridge {
public:
    bridge(shard::shard_group& group, const config::server& initial, pusher::shared_counters& counters);
    ~bridge();
    bridge(const bridge&) = delete;
    bridge& operator=(const bridge&) = delete;

    // Starts the thread and returns once its ring exists (shards wake it through that ring).
    void start();
    void reload(const config::server* next) { next_config_.store(next, std::memory_order_release); }
    // After the shards have stopped.
    void stop();

    [[nodiscard]] const std::string& node_id() const noexcept { return node_id_; }

private:
    void run();
    void loop(net::ring& r);
    void handle(std::uint64_t user_data, int res);
    void drain_shards();
    void share(const pusher::share_mail& m);
    void on_message(const redis::value& v);
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

    // Mail to shards that did not fit their queue yet, per shard (kept in order).
    std::vector<std::vector<shard::mail*>> spill_;
    std::vector<bool> wake_;
    std::uint64_t seq_ = 0;           // of this node's broadcasts, in PUBLISH order
    std::uint64_t delivered_seq_ = 0; // own broadcasts up to this one are delivered here
    std::deque<own_event> own_;       // published, waiting for their echo
    std::uint64_t dropped_ = 0;       // broadcasts that could not be published (Redis down)
    std::uint64_t refused_ = 0;       // messages from Redis that were not ours to deliver

    std::atomic<bool> stopping_{false};
    std::atomic<bool> started_{false};
    std::atomic<bool> start_failed_{false};
    int stop_fd_ = -1; // the bridge's ring fd, for stop()'s wake-up
    std::thread thread_;
};

} // namespace ringcast::cluster
