// N fake shards in one thread, for testing the Pusher layer without sockets or io_uring. Each
// shard is a real pusher::context over a fake port that records what it is asked to do: the
// frames queued on each connection (decoded back to text), closes, timers. Mail between shards
// waits in one FIFO queue per (from, to) pair, as the real SPSC queues do, and is delivered only
// when the test says so: all of it in round-robin order, one message from one pair, or in a
// seeded random order that still keeps each pair FIFO (the adversarial orders the real shards
// could produce). Time moves only when the test advances it.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/port.h"
#include "ringcast/pusher/session.h"
#include "ringcast/pusher/shared_counters.h"

#include <simdjson.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::testing {

class fake_cluster;

// What one fake connection was sent, and how it ended.
struct fake_conn {
    shard::conn_id id;
    unsigned shard = 0;
    std::vector<std::string> texts;          // payloads of the text frames, in order
    std::optional<std::uint16_t> close_code; // the close frame's code, if one was sent
    bool closed = false;
    bool graceful = false;
    bool close_reported = false; // session::on_closed has run
    std::uint64_t timer_due_ms = 0;
    std::string partial; // bytes of a frame queued in pieces (wslay's close: header, then payload)
    std::unique_ptr<pusher::session> session;
};

class fake_port final : public pusher::port {
public:
    fake_port(fake_cluster& cluster, unsigned index) : cluster_(cluster), index_(index) {}

    void send(shard::conn_id c, net::frame_ref f) override;
    void send_to_each(std::span<const pusher::local_member> members, const pusher::session* except,
                      const net::frame_ref& f) override;
    void close_gracefully(shard::conn_id c) override;
    void close(shard::conn_id c) override;
    void set_timer(shard::conn_id c, std::uint64_t due_ms) override;
    void post(unsigned target, std::unique_ptr<pusher::mail> m) override;
    void drain_mail() override;
    std::uint64_t now_ms() const noexcept override;
    unsigned index() const noexcept override { return index_; }
    unsigned count() const noexcept override;
    int bridge() const noexcept override;

private:
    fake_cluster& cluster_;
    unsigned index_;
};

// One connected Pusher client on one fake shard.
class fake_client {
public:
    fake_client(fake_cluster& cluster, fake_conn& conn) : cluster_(&cluster), conn_(&conn) {}

    // Hands a client message (the text of one WebSocket frame) to the session, then finishes
    // the closes it caused, as the shard does after a completion batch. Mail is not delivered.
    void say(std::string_view json);
    // Raw WebSocket bytes (masked client frames), as they would come off the socket.
    void feed(std::string_view bytes);
    // The connection goes away (the peer closed it).
    void disconnect();

    const std::vector<std::string>& texts() const { return conn_->texts; }
    // Texts of the messages whose "event" is `event`.
    std::vector<std::string> events(std::string_view event) const;
    std::size_t count(std::string_view event) const { return events(event).size(); }
    // The last message with that event, or "" if none.
    std::string last(std::string_view event) const;
    void clear() { conn_->texts.clear(); }

    bool closed() const { return conn_->closed; }
    std::optional<std::uint16_t> close_code() const { return conn_->close_code; }
    const std::string& socket_id() const { return socket_id_; }
    unsigned shard() const { return conn_->shard; }
    pusher::session* session() const { return conn_->session.get(); }
    fake_conn& conn() const { return *conn_; }

    // "socket_id:channel[:data]" signed with the app secret, as a Laravel app's auth endpoint.
    std::string auth(std::string_view channel, std::string_view channel_data = {}) const;
    // Subscribes to a public/cache channel, or a private/presence one with a valid signature.
    void subscribe(std::string_view channel, std::string_view channel_data = {});
    void unsubscribe(std::string_view channel);
    // pusher:signin with a valid signature.
    void signin(std::string_view user_data);

private:
    friend class fake_cluster;
    fake_cluster* cluster_;
    fake_conn* conn_;
    std::string socket_id_;
};

class fake_cluster {
public:
    // One app ("app-id", "app-key", "app-secret") unless `settings` has apps.
    explicit fake_cluster(unsigned shards, config::server settings = {});
    ~fake_cluster();
    fake_cluster(const fake_cluster&) = delete;
    fake_cluster& operator=(const fake_cluster&) = delete;

    unsigned shards() const { return static_cast<unsigned>(contexts_.size()); }
    pusher::context& context(unsigned shard) { return *contexts_[shard]; }
    config::server& settings() { return settings_; }
    config::app& app(std::uint32_t i = 0) { return settings_.apps[i]; }

    // Opens a Pusher session on `shard`, as an accepted WebSocket upgrade would; nullopt when
    // the app is at max_connections.
    std::optional<fake_client> connect(unsigned shard, std::uint32_t app = 0);

    // Mail. deliver_all: round robin over the pairs until no mail is left (bounded).
    void deliver_all();
    // One message from `from` to `to`; false if that queue is empty.
    bool deliver_one(unsigned from, unsigned to);
    // Everything, in a random order of pairs that keeps each pair FIFO.
    void deliver_shuffled(std::uint32_t seed);
    // Mail from `from` to `to` waits until released (a slow queue).
    void hold(unsigned from, unsigned to, bool held = true);
    std::size_t queued(unsigned from, unsigned to) const { return queue(from, to).size(); }
    std::size_t queued() const;

    // Moves the clock: due timers fire (per connection), and every context gets its tick once
    // per second crossed.
    void advance(std::uint64_t ms);
    std::uint64_t now_ms() const { return now_ms_; }

    // Where the port sends what sessions do.
    fake_conn* find(shard::conn_id id);
    // Runs on_closed for closed connections and drops their sessions (after a "batch").
    void finish_closes();

    // A Redis bridge (as in a cluster): mail posted to it collects in bridge_mail() for the test
    // to read, and the test answers as the bridge would with from_bridge().
    void attach_bridge() { bridge_ = true; }
    bool has_bridge() const { return bridge_; }
    std::vector<std::unique_ptr<pusher::mail>>& bridge_mail() { return bridge_mail_; }
    void from_bridge(unsigned to, std::unique_ptr<pusher::mail> m) { deliver(to, std::move(m)); }

    // An HTTP API question, asked from `from` to the owner shards as the server does; returns
    // the gathered replies once everything has been delivered.
    pusher::query_reply_mail ask(unsigned from, pusher::query_kind kind, std::uint32_t app,
                                 std::vector<std::string> names, bool all_shards);

private:
    friend class fake_port;
    using mail_queue = std::deque<std::unique_ptr<pusher::mail>>;
    mail_queue& queue(unsigned from, unsigned to) { return queues_[from * shards() + to]; }
    const mail_queue& queue(unsigned from, unsigned to) const { return queues_[from * shards() + to]; }
    void deliver(unsigned to, std::unique_ptr<pusher::mail> m);

    config::server settings_;
    pusher::shared_counters counters_;
    std::uint64_t now_ms_ = 1'000'000;
    std::vector<std::unique_ptr<fake_port>> ports_;
    std::vector<std::unique_ptr<pusher::context>> contexts_;
    std::vector<mail_queue> queues_;
    std::vector<bool> held_;
    std::deque<std::unique_ptr<fake_conn>> conns_;
    std::vector<pusher::query_reply_mail> replies_;
    std::uint32_t next_slot_ = 1;
    // A mail is being delivered: drain_mail from inside a handler does nothing, as on the real
    // shard (shard::drain_mail is not re-entrant, so one owner's changes keep their order).
    bool in_drain_ = false;
    bool bridge_ = false;
    std::vector<std::unique_ptr<pusher::mail>> bridge_mail_;
};

// Decodes server-to-client WebSocket frames: text payloads are appended to `texts`, a close
// frame's code goes to `close_code`.
void decode_server_frames(std::string_view bytes, std::vector<std::string>& texts,
                          std::optional<std::uint16_t>& close_code);
// How many leading bytes of `bytes` are whole frames (the rest waits for more).
std::size_t complete_frames_length(std::string_view bytes);
// A masked client text frame carrying `text`.
std::string client_text_frame(std::string_view text);

} // namespace ringcast::testing
