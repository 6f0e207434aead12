// A shard: one thread, pinned to one core, that owns one io_uring, its SO_REUSEPORT listeners
// (one per port the server serves), one provided-buffer ring, the connections it accepted, a timer wheel, and
// the protocol state its handler keeps (local channel subscribers). Nothing a shard owns is touched by
// another thread. The only things that cross cores are `mail` objects passed through the SPSC queues of the
// shard_group (between shards, and with the Redis bridge when there is one), each followed by an
// IORING_OP_MSG_RING wake-up of the receiving ring.
//
// The protocol layers sit above this one and plug in through `handler` (a new connection, mail,
// the one-second tick, a reload) and through each connection's `conn_state` (its bytes, timer
// expiries, shutdown, failure and close); they answer by queueing frames (send), asking for a
// close, setting a connection's next timer, or posting mail to other shards.
//
// Exceptions: protocol code may throw (std::bad_alloc, a broken invariant). The shard catches
// whatever escapes a handler call, logs it, and closes only the connection it was serving: its
// conn_state's on_failure queues that connection's goodbye (a WebSocket gets close 1011, an HTTP
// request a 500), no further input reaches it, and on_closed still runs to release its state. A
// throwing mail, tick or reload handler is logged and the shard carries on. Nothing on the hot
// path pays for this: a try block costs nothing until something throws.
//
// TLS: a connection accepted on a TLS listener carries a tls_server_session. The shard feeds it
// what the socket received and hands its conn_state only the plaintext; frames queued with send()
// stay plaintext in the write queue (so a slow consumer's backlog can still be dropped) and are
// encrypted in one batch just before each send, or, under kernel TLS, sent as they are once the
// session's keys are with the kernel (tls_server.h). The protocol layers cannot tell the difference.
//
// Connection lifetime: a conn is identified by {slot, generation}. close() only marks it; the
// handler's on_closed runs after the current completion batch, and the slot is freed once the
// last in-flight operation on it has completed, so no completion can ever reach a reused slot.
#pragma once

#include "ringcast/net/buffer_ring.h"
#include "ringcast/net/frame.h"
#include "ringcast/net/ring.h"
#include "ringcast/net/tls_server.h"
#include "ringcast/net/write_queue.h"
#include "ringcast/shard/conn_id.h"
#include "ringcast/shard/conn_state.h"
#include "ringcast/shard/mail.h"
#include "ringcast/shard/metrics.h"
#include "ringcast/shard/spsc_queue.h"

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace ringcast::shard {

class shard;
class shard_group;

struct conn {
    enum class state : std::uint8_t { free, open, closing };

    int fd = -1;
    std::uint32_t generation = 0;
    std::uint32_t slot = 0;
    state st = state::free;
    bool sending = false;             // a send is in flight (at most one per connection)
    bool dirty = false;               // on the shard's flush list
    bool close_after_flush = false;   // close once the write queue is empty
    bool write_shut = false;          // our FIN is sent; waiting for the peer to close too
    bool overloaded = false;          // over its write budget: further frames are dropped
    bool goodbye_due = false;         // overloaded during a send: drop the queue when it completes
    bool kernel_full = false;         // the last send was short: the peer is not keeping up
    bool close_reported = false;      // handler's on_closed has run
    bool failed = false;              // a handler call threw: no more input or timers reach it
    bool finishing = false;           // stopping: the server waits for this one's request to end
    bool handshaking = false;         // TLS: counted among the shard's handshakes in progress
    std::uint8_t in_flight = 0;       // SQEs not yet completed (recv + send)
    std::uint8_t listener = 0;        // index of the listener it was accepted on
    std::uint32_t timer_due_s = 0;    // wheel second this conn is queued under (0 = none)
    std::uint64_t force_close_ms = 0; // when closing gracefully: give up waiting at this time
    net::write_queue out;
    std::unique_ptr<conn_state> state;            // the protocol's per-connection state (set by on_open)
    void* send_state = nullptr;                   // the shard's iovec block while a send is in flight
    std::unique_ptr<net::tls_server_session> tls; // accepted on a TLS listener

    conn_id id() const noexcept { return {slot, generation}; }
};

// What a shard needs to know of the configuration, and nothing more.
struct options {
    // Bytes a connection may have queued before it is a slow consumer (see shard::send).
    std::uint64_t max_pending_write_bytes = 4 << 20;
    // What a slow consumer is told as it is closed (the protocol's "over capacity" close frame).
    net::frame_ref overload_frame;
    // What a client is told when it is turned away at the open-files limit (an HTTP 503).
    net::frame_ref busy_response;
    // What plain HTTP sent to a TLS port is answered, unencrypted (an HTTP 400).
    net::frame_ref plain_http_response;
    // TLS handshakes in progress at once; a TLS connection accepted beyond that is closed.
    std::uint32_t max_tls_handshakes = 1024;
};

// A port the shard accepts connections on: plain, or TLS with the certificates in `tls`.
struct listener {
    int fd = -1;
    const net::tls_server_slot* tls = nullptr;
};

class handler {
public:
    virtual ~handler() = default;
    // A connection was accepted: give it its conn_state (c.state).
    virtual void on_open(conn& c) = 0;
    // Mail from another shard, or control mail from the main thread (shard_group::control_all).
    virtual void on_mail(mail& m) = 0;
    // Once a second, for shard-wide housekeeping.
    virtual void on_tick() {}
};

class shard {
public:
    shard(shard_group& group, unsigned index, options opts, std::vector<listener> listeners);
    shard(shard_group& group, unsigned index, options opts, int listen_fd)
        : shard(group, index, std::move(opts), std::vector<listener>{listener{listen_fd}}) {}
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    void set_handler(std::unique_ptr<handler> h) { handler_ = std::move(h); }
    handler& get_handler() noexcept { return *handler_; }

    // The thread body: creates the ring (SINGLE_ISSUER needs the owning thread to create it),
    // signals `ready`, runs until stopped. Throws at set-up only.
    void run();

    unsigned index() const noexcept { return index_; }
    unsigned count() const noexcept;
    // The bridge's endpoint index for post(), or -1 when the group has no bridge.
    int bridge() const noexcept;
    std::uint64_t now_ms() const noexcept { return now_ms_; }

    // Queues a frame on a connection; it leaves in the next flush together with everything
    // else queued for that connection. A connection whose peer has stopped keeping up (the
    // kernel refused part of a send) and that is over its write budget, or any connection far
    // over it, is closed: what it has not been sent yet is dropped, `overload_frame` (the
    // handler's "over capacity" goodbye) takes its place, and later frames are dropped too.
    void send(conn& c, net::frame_ref f);
    // Closes once everything queued has been sent (or after a grace period, by default
    // close_grace_ms, if the peer stops reading).
    void close_gracefully(conn& c);
    void close_gracefully(conn& c, std::uint64_t grace_ms);
    // Closes at once; queued bytes are discarded.
    void close(conn& c);
    // Asks for handler::on_timer at (or up to one tick after) `due_ms` on the monotonic clock.
    void set_timer(conn& c, std::uint64_t due_ms);
    // Looks a connection up; nullptr if it has gone.
    conn* find(conn_id id) noexcept;
    // Gives the connection a new conn_state (it changes protocol). May be called from inside the
    // old state's own call: the old one is destroyed after the completion batch.
    void replace_state(conn& c, std::unique_ptr<conn_state> next);

    // Cross-shard: hands `m` to shard `target`'s handler (ownership passes with it). `target`
    // may be this shard: the mail is then handled at the next drain, after the current handler.
    void post(unsigned target, std::unique_ptr<mail> m);
    // Delivers all mail already sent to this shard. Called before acting on a publish, so an
    // event published after an earlier one (acknowledged to the publisher) is never delivered
    // before it.
    void drain_mail();

    std::size_t open_connections() const noexcept { return open_count_; }
    // What this shard counts; read by the metrics scrape from shard 0's thread.
    const io_metrics& metrics() const noexcept { return metrics_; }
    // True once the server is stopping: HTTP answers then say "Connection: close".
    bool stopping() const noexcept { return stopping_; }

    // The first (main) listening socket (for `ringcast restart` to steer its group's new connections).
    int listen_fd() const noexcept { return listeners_.front().fd; }

    // Called from the main thread.
    int ring_fd() const noexcept { return ring_fd_.load(std::memory_order_acquire); }

private:
    struct send_op;
    struct wheel_entry {
        std::uint32_t slot;
        std::uint32_t generation;
        std::uint32_t due_s;
    };

    void arm_accept(unsigned listener_index);
    void arm_recv(conn& c);
    void arm_tick();
    void handle_cqe(io_uring_cqe* cqe);
    void on_accept(unsigned listener_index, int res, bool more);
    // Opens a connection accepted on listener `from` (false: refused, the fd is closed).
    bool open_accepted(int fd, unsigned from);
    // Stopping: accepts what waits in the listener's queue before the listener is shut.
    void accept_waiting();
    // At the open-files limit: answers the connections waiting in the backlog with 503 and
    // closes them, one at a time through the reserve descriptor. Returns how many.
    unsigned shed_pending_connections(int listen_fd) noexcept;
    static int open_reserve_fd() noexcept;
    void on_recv(conn& c, io_uring_cqe* cqe);
    // TLS (tls.cpp): ciphertext in, plaintext to the conn_state; batches encrypted before sends.
    void on_tls_recv(conn& c, std::string_view cipher);
    void on_tls_failure(conn& c);
    void end_handshake(conn& c) noexcept;
    // Kernel TLS at accept: attaches the kernel's tls layer and offers the session to hand over.
    void offer_kernel_tls(conn& c);
    // A TLS connection's turn in flush_writes: encrypt what is queued, then send the output.
    void flush_tls(conn& c);
    // The same once its keys are with the kernel (or about to be): OpenSSL's records, then the
    // write queue's frames as they are.
    void flush_kernel_tls(conn& c);
    // Gives the session's keys to the kernel; false if it refused (the connection is closed).
    bool start_kernel_tls(conn& c);
    // Sends the session's next piece of output (with its record type under kernel TLS).
    void send_tls_output(conn& c);
    // Sends what the write queue holds as it is (a plain connection, or kernel TLS).
    void send_queue(conn& c);
    void on_send(conn& c, int res, send_op* op);
    void on_tick();
    void overload(conn& c);
    void say_overload_goodbye(conn& c);
    void mark_dirty(conn& c);
    void flush_writes();
    send_op* take_send_op();
    // Submits one send of what op->iov holds (op->bytes set by the caller); a record type other
    // than 0 goes with it as the kernel TLS control message that makes it a record of that type.
    void submit_send(conn& c, send_op* op, unsigned iov_count, std::uint8_t record_type = 0);
    void flush_mail();
    void finish_closes();
    void release_slot(conn& c);
    // Stopping happens in two steps, the same on every shard: first the listener is shut and
    // the requests in progress finish (an HTTP API publish still reaches every subscriber, on
    // every shard); once all shards are done with theirs, or after finish_requests_ms, each
    // shard says goodbye to its WebSockets (close 4200: pusher-js reconnects at once).
    void begin_shutdown();
    // Stopping: lets the connection's state finish its work in progress (counted until closed).
    void finish_up(conn& c);
    void advance_shutdown();
    void say_goodbye();
    bool shutdown_done() const noexcept;
    conn& allocate_conn(int fd);
    // Runs `call` (a handler call for `c`); if it throws, logs and closes `c` (see the top).
    template <typename Call> void guarded(conn& c, const char* what, Call&& call) noexcept;
    void fail(conn& c, const char* what, const char* why) noexcept;
    // The same for calls that concern no single connection: log, carry on.
    template <typename Call> void guarded(const char* what, Call&& call) noexcept;

    shard_group& group_;
    unsigned index_;
    options options_;
    std::vector<listener> listeners_;
    int reserve_fd_ = -1;          // held so that one accept can still succeed at the fd limit
    std::uint64_t shed_count_ = 0; // connections answered 503 since the last log line
    std::uint64_t shed_logged_ms_ = 0;
    std::unique_ptr<handler> handler_;
    std::unique_ptr<net::ring> ring_;
    std::unique_ptr<net::buffer_ring> buffers_;
    std::atomic<int> ring_fd_{-1};
    std::uint64_t now_ms_ = 0;
    bool stopping_ = false;
    bool goodbye_said_ = false;       // stopping, second step: WebSockets told to go
    bool requests_reported_ = false;  // this shard told the group its requests are done
    std::size_t finishing_count_ = 0; // conns with `finishing` set that are still open
    bool draining_ = false;
    std::vector<bool> accepting_; // per listener: its multishot accept is armed
    std::uint64_t stop_deadline_ms_ = 0;

    std::vector<std::unique_ptr<conn>> conns_; // stable addresses: sessions keep conn*
    std::vector<std::uint32_t> free_slots_;
    std::size_t open_count_ = 0;
    std::vector<conn*> dirty_;
    std::vector<conn*> closing_;
    std::vector<std::unique_ptr<conn_state>> retired_; // replaced states, destroyed after the batch
    std::vector<send_op*> send_pool_;

    static constexpr unsigned wheel_size = 64; // seconds; later deadlines lap and are re-checked
    std::vector<wheel_entry> wheel_[wheel_size];
    std::uint32_t wheel_now_s_ = 0;
    __kernel_timespec tick_{};

    // Outgoing mail that did not fit its queue yet, per target shard; retried every iteration.
    std::vector<std::vector<mail*>> overflow_;
    std::uint32_t handshakes_ = 0;   // TLS handshakes in progress
    std::string tls_plain_;          // decrypted input, reused
    std::uint64_t tls_failures_ = 0; // TLS failures since the last log line about them
    std::uint64_t tls_failure_logged_ms_ = 0;
    std::vector<bool> wake_;
    io_metrics metrics_;
};

// All shards of the process and the queues between them (queue[from][to]).
//
// With a bridge, one more endpoint joins the queues at index count(): a thread that is not a
// shard (the Redis bridge between nodes) posts mail to shards and receives mail from them
// through the same SPSC queues, and is woken the same way, by MSG_RING to its own ring.
class shard_group {
public:
    explicit shard_group(unsigned count, bool with_bridge = false);
    ~shard_group();

    unsigned count() const noexcept { return count_; }
    // Queue endpoints: the shards, plus the bridge when there is one.
    unsigned endpoints() const noexcept { return count_ + (bridge_ ? 1 : 0); }
    bool has_bridge() const noexcept { return bridge_; }
    // The bridge's ring, for wake-ups (-1 until it has one).
    int bridge_ring_fd() const noexcept { return bridge_fd_.load(std::memory_order_acquire); }
    void set_bridge_ring_fd(int fd) noexcept { bridge_fd_.store(fd, std::memory_order_release); }
    // The ring to wake when mail is posted to endpoint `to`.
    int ring_fd_of(unsigned to) noexcept;
    void add(std::unique_ptr<shard> s) { shards_.push_back(std::move(s)); }
    shard& at(unsigned i) noexcept { return *shards_[i]; }
    spsc_queue<mail>& queue(unsigned from, unsigned to) noexcept { return *queues_[from * endpoints() + to]; }
    // Mail from the main thread to shard `to` (its only producer is the main thread).
    spsc_queue<mail>& control(unsigned to) noexcept { return *control_[to]; }
    // Mail queued for endpoint `to` and not yet taken (any thread; approximate while it moves).
    std::size_t mail_waiting(unsigned to) const noexcept;

    // Blocks until every shard has created its ring; returns false if one failed.
    bool wait_ready();
    void mark_ready(bool ok);
    // Asks every shard to stop (MSG_RING from a small ring owned by the calling thread).
    void stop_all();
    // Stopping: a shard says its requests in progress are done; true for the last one, which
    // then wakes the others (they wait for it before saying goodbye to their WebSockets).
    bool report_requests_done() noexcept { return busy_shards_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
    bool requests_done() const noexcept { return busy_shards_.load(std::memory_order_acquire) == 0; }
    // Called from the main thread: hands every shard the mail make(shard index) builds (a
    // reload, for instance) and wakes it; the shard's handler gets it through on_mail, between
    // two completion batches like any mail. False if a shard's control queue was full.
    bool control_all(const std::function<std::unique_ptr<mail>(unsigned)>& make);

private:
    unsigned count_;
    bool bridge_;
    std::atomic<int> bridge_fd_{-1};
    std::vector<std::unique_ptr<shard>> shards_;
    std::vector<std::unique_ptr<spsc_queue<mail>>> queues_;
    std::vector<std::unique_ptr<spsc_queue<mail>>> control_;
    std::atomic<unsigned> ready_{0};
    std::atomic<bool> failed_{false};
    std::atomic<unsigned> busy_shards_; // stopping: shards whose requests are not yet done
};

} // namespace ringcast::shard
