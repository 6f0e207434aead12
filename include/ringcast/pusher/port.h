// Everything the Pusher layer asks of the shard it runs on, and nothing more: queue a frame on a
// connection, close it, arm its timer, post mail to another shard, read the shard's clock and
// place. The server implements it over a real shard (server/shard_port.h); the unit tests and
// the dispatcher fuzz target implement it with fake shards in one thread whose mail they
// deliver in whatever order they choose (tests/support/fake_shards.h).
//
// Connections are named by shard::conn_id; a call for one that has gone does nothing.
#pragma once

#include "ringcast/net/frame.h"
#include "ringcast/shard/conn_id.h"

#include <cstdint>
#include <memory>
#include <span>

namespace ringcast::pusher {

struct mail;
class session;

// A channel's subscriber on this shard. The connection id sits beside the session, so a
// fan-out walks the channel's member vector and the shard's connections without touching the
// sessions themselves.
struct local_member {
    session* s;
    shard::conn_id conn;
};

class port {
public:
    virtual ~port() = default;

    // Queues a frame; it leaves with everything else queued for the connection.
    virtual void send(shard::conn_id c, net::frame_ref f) = 0;
    // The same frame queued on every member's connection except `except`'s (a channel's
    // fan-out: one call per publish, not one per subscriber).
    virtual void send_to_each(std::span<const local_member> members, const session* except,
                              const net::frame_ref& f) = 0;
    // Closes once what is queued has been sent.
    virtual void close_gracefully(shard::conn_id c) = 0;
    // Closes at once, dropping what is queued.
    virtual void close(shard::conn_id c) = 0;
    // Asks for the connection's conn_state::on_timer at (or up to a second after) `due_ms`.
    virtual void set_timer(shard::conn_id c, std::uint64_t due_ms) = 0;
    // Hands `m` to shard `target`'s context (this one included); FIFO per pair of shards.
    virtual void post(unsigned target, std::unique_ptr<mail> m) = 0;
    // Delivers the mail already sent to this shard (see context::publish).
    virtual void drain_mail() = 0;

    // Milliseconds on the monotonic clock, as of the current completion batch.
    [[nodiscard]] virtual std::uint64_t now_ms() const noexcept = 0;
    [[nodiscard]] virtual unsigned index() const noexcept = 0;
    [[nodiscard]] virtual unsigned count() const noexcept = 0;
    // Where mail for the other nodes goes (post() target), or -1 on a single node.
    [[nodiscard]] virtual int bridge() const noexcept { return -1; }
};

} // namespace ringcast::pusher
