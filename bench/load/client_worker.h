// A receiver thread: one io_uring ring, one provided-buffer ring, and a contiguous slice of the
// run's connections. It opens them (TCP connect, WebSocket upgrade, Pusher handshake, subscribe),
// then receives with one multishot recv per connection and does the least work per frame: read
// the WebSocket header, find the "seq" and "t" numbers, set a bit, record a latency. In `presence`
// and `whisper` its connections also act on a paced schedule: presence churners join and leave
// their channel, whisperers send client events to the other members of theirs. In `soak`'s churn
// its connections are slots that connect, subscribe, stay briefly and close, over and over.
//
// Ownership: everything in here belongs to the thread running run(); other threads read only
// `run_control` and, after the thread has been joined, the result and the bitmaps.
#pragma once

#include "histogram.h"
#include "layout.h"
#include "options.h"
#include "run_control.h"
#include "tls_session.h"
#include "ws_wire.h"

#include <liburing.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <vector>

namespace ringcast::bench {

enum class client_mode {
    pusher, // the Pusher protocol over WebSocket
    raw,    // TCP only: the ceiling's receivers count pre-framed frames
};

// What connections do besides receiving: nothing (fanout, channels, connect, soak's stable
// clients), presence churn, client events between the members of a group, or connection churn
// (soak: connect, subscribe, stay briefly, disconnect, over and over).
enum class peer_mode : std::uint8_t { none, presence, whisper, churn };

struct peer_plan {
    peer_mode mode = peer_mode::none;
    std::uint32_t observers = 0; // presence: the first `observers` of each group stay subscribed
    double action_rate = 0;      // per acting connection: client events/s, or joins + leaves/s;
                                 // churn: new connections per second over this worker's slots
    std::uint64_t stay_ns = 0;   // churn: how long a connection stays once fully subscribed
};

struct worker_config {
    client_mode mode = client_mode::pusher;
    peer_plan peers;
    const target* server = nullptr;
    sockaddr_in address{};
    std::uint32_t first_connection = 0; // global index of this worker's first connection
    std::uint32_t connection_count = 0;
    std::uint32_t concurrency = 64; // handshakes in flight in this worker
    double connect_rate = 0;        // per second, this worker's share; 0 = unlimited
    std::uint64_t connect_timeout_ns = 0;
    layout channels;
    std::uint64_t max_events = 0; // events tracked per connection (bitmap size); 0 = no tracking
};

struct worker_result {
    std::uint32_t attempted = 0;
    std::uint32_t established = 0; // subscribed (pusher) or connected (raw)
    std::uint32_t failed = 0;
    std::map<std::string, std::uint32_t> failures;    // reason -> connections that never got established
    std::map<std::string, std::uint32_t> disconnects; // reason -> established connections lost later
    histogram connect_latency;                        // ns from socket() to subscription_succeeded
    histogram delivery_latency;                       // ns from the publisher's stamp to arrival
    std::uint64_t deliveries = 0;                     // first copies of expected events (raw: frames)
    std::uint64_t duplicates = 0;
    std::uint64_t unexpected = 0; // stamped events this connection should not have received
    // First copies that arrived after an event with a higher seq on the same connection. Only
    // meaningful when one publisher connection sends events strictly one after the other (soak).
    std::uint64_t out_of_order = 0;
    std::uint64_t other_messages = 0;
    std::uint64_t pusher_errors = 0;
    std::string first_pusher_error;
    std::uint64_t recv_completions = 0;
    std::uint64_t nobufs = 0; // -ENOBUFS: the buffer ring ran dry (flow control, re-armed)
    std::uint64_t first_established_ns = 0;
    std::uint64_t last_established_ns = 0;
    std::uint64_t last_delivery_ns = 0;
    std::string setup_error; // the ring could not be created: nothing ran

    // presence and whisper
    std::uint64_t actions = 0;         // client events sent; joins and leaves sent
    std::uint64_t skipped_actions = 0; // not sent: the connection was still joining, or far behind schedule
    std::uint64_t echoed = 0;          // client events the server sent back to their own sender
    std::uint64_t member_added = 0;    // first copies seen by observers
    std::uint64_t member_removed = 0;
    std::uint64_t joins_refused = 0;     // pusher:error or subscription_error in answer to a join
    std::uint64_t presence_checked = 0;  // presence subscription_succeeded payloads read
    std::uint64_t presence_not_sane = 0; // ... whose count, ids or own id were wrong
    std::string first_presence_problem;

    // churn
    std::uint64_t churn_joined = 0;      // connections whose presence subscription succeeded
    std::uint64_t churn_completed = 0;   // connections that subscribed, stayed and were closed by us
    std::uint64_t churn_skipped = 0;     // connects not made: every slot was busy, or far behind schedule
    std::uint64_t churn_events_seen = 0; // published events churners received (not checked)
};

// Per connection (by global index), what it did in `presence` or `whisper`: what its peers must
// have seen. Gathered from every worker once they have stopped.
struct peer_count {
    std::uint32_t sent = 0; // client events sent; joins acknowledged with subscription_succeeded
    std::uint32_t left = 0; // presence: unsubscribes sent after a join
};

class client_worker {
public:
    client_worker(worker_config config, run_control& control);
    ~client_worker();
    client_worker(const client_worker&) = delete;
    client_worker& operator=(const client_worker&) = delete;

    // The thread body: returns once control.quit is set (after closing every socket).
    void run() noexcept;

    [[nodiscard]] const worker_result& result() const noexcept { return result_; }
    // For each connection that got established: events it should have received (by `published_ok`,
    // indexed by seq) but did not. Call after run() has returned.
    [[nodiscard]] std::uint64_t count_lost(const std::vector<std::uint8_t>& published_ok) const;
    // Adds this worker's established connections to their event groups' counts. Safe once the
    // worker has reported itself settled: `established` never changes after that.
    void add_established_per_group(std::vector<std::uint64_t>& per_group) const;
    // Adds this worker's established observers (presence) or members (whisper) per group.
    void add_peers_per_group(std::vector<std::uint64_t>& per_group) const;
    // After run(): writes each connection's peer_count at its global index.
    void add_peer_counts(std::vector<peer_count>& by_connection) const;
    // After run(): what this worker's established connections should have seen from their peers
    // (by `by_connection`) and did not (lost), or saw more often than sent (duplicated).
    void count_peer_deliveries(const std::vector<peer_count>& by_connection, std::uint64_t& lost,
                               std::uint64_t& duplicated) const;

private:
    enum class state : std::uint8_t {
        idle,
        connecting,
        upgrading,
        awaiting_established,
        awaiting_subscribed,
        awaiting_also_subscribed, // the first channel succeeded; waiting for layout::also_channel
        subscribed,
        raw_open,
        closing,
        closed,
    };
    enum class member_state : std::uint8_t { out, joining, in }; // a presence churner
    struct connection {
        int fd = -1;
        state st = state::idle;
        member_state member = member_state::out;
        std::uint8_t inflight = 0; // operations whose final completion has not arrived
        bool recv_armed = false;
        bool send_busy = false;
        bool established = false;
        std::uint32_t group = 0;
        std::uint64_t started_ns = 0;
        std::uint64_t next_seq = 0;    // one past the highest seq received (for out_of_order)
        std::uint64_t leave_at_ns = 0; // churn: when this connection closes itself
        std::string partial;           // bytes of an incomplete HTTP response or frame
        std::string message;           // a fragmented text message being reassembled (rare)
        std::string sending;           // the bytes of the send in flight
        std::size_t sent = 0;          // how much of `sending` the kernel took
        std::string queued;            // what goes out after `sending`
        std::string accept;            // the Sec-WebSocket-Accept the server must answer with
        std::string socket_id;         // presence churners sign every join with it
        peer_count peer;
        std::unique_ptr<tls_session> tls; // --tls: everything sent and received goes through it
    };
    // What one presence observer saw of one member of its group.
    struct member_tally {
        std::uint32_t added = 0;
        std::uint32_t removed = 0;
        bool present = false;
    };
    enum class op : std::uint8_t { connect = 1, send, recv, cancel };
    // How long the loop sleeps with nothing to do: short enough to notice `quit` and timeouts promptly.
    static constexpr std::uint64_t idle_wait_ns = 10'000'000;

    static std::uint64_t user_data(op kind, std::uint32_t index) noexcept {
        return (static_cast<std::uint64_t>(kind) << 32) | index;
    }

    bool setup_ring();
    io_uring_sqe* sqe();
    void open_more(std::uint64_t now);
    void open_one(std::uint32_t index, std::uint64_t now);
    void arm_recv(std::uint32_t index);
    void send_bytes(std::uint32_t index);
    void queue_text(connection& c, std::string_view payload);
    void queue_frame(connection& c, ws_opcode opcode, std::string_view payload);

    void on_completion(const io_uring_cqe& cqe);
    void on_connect(std::uint32_t index, int res);
    void on_send(std::uint32_t index, int res);
    void on_recv(std::uint32_t index, const io_uring_cqe& cqe);
    void on_bytes(std::uint32_t index, std::string_view data);
    void on_cipher(std::uint32_t index, std::string_view data);
    // --tls: moves the session's ciphertext into the send buffers and starts a send if none is out.
    void flush_tls(std::uint32_t index);
    std::size_t on_frames(std::uint32_t index, std::string_view data);
    void on_upgrade_response(std::uint32_t index, std::string_view data);
    void on_text(std::uint32_t index, std::string_view payload);
    void on_stamp(connection& c, std::uint32_t index, std::uint64_t seq, std::uint64_t t_ns);
    void on_established(connection& c);
    void on_connection_established(std::uint32_t index, std::string_view payload);
    void on_subscription_succeeded(std::uint32_t index, std::string_view payload);
    // pusher:subscribe to `channel`, signed (with channel_data for presence) when it needs auth.
    void subscribe(std::uint32_t index, const std::string& channel);
    void on_control(connection& c, std::string_view payload);
    void on_presence_message(std::uint32_t index, std::string_view payload);
    void on_member_event(std::uint32_t index, std::string_view payload, bool added);
    void check_presence(std::uint32_t index, std::string_view payload);
    void record_delivery(std::uint64_t t_ns);

    [[nodiscard]] std::uint32_t global(std::uint32_t index) const noexcept {
        return config_.first_connection + index;
    }
    [[nodiscard]] bool is_observer(std::uint32_t index) const noexcept {
        return config_.channels.slot_of(global(index)) < config_.peers.observers;
    }
    // Paced actions: returns how long until the next one is due.
    std::uint64_t act(std::uint64_t now);
    void act_one(std::uint32_t index);
    void join(std::uint32_t index);
    void leave(std::uint32_t index);
    // churn: close finished connections, time out slow handshakes, open new ones on schedule.
    std::uint64_t churn(std::uint64_t now);
    void finish_churner(std::uint32_t index);
    // Stops using a connection: drops its buffers and cancels what is pending on its socket.
    void abandon(std::uint32_t index);

    void fail(std::uint32_t index, const std::string& reason);
    void release(std::uint32_t index);
    void check_timeouts(std::uint64_t now);
    void flush_owed();
    void flush_delivered();
    void teardown();

    worker_config config_;
    run_control& control_;
    worker_result result_;

    io_uring ring_{};
    bool ring_ready_ = false;
    io_uring_buf_ring* buffers_ = nullptr;
    char* buffer_memory_ = nullptr;
    unsigned buffers_returned_ = 0;

    std::vector<connection> conns_;
    std::vector<std::uint32_t> rearm_; // connections whose multishot recv ended and must be re-armed
    std::vector<std::uint64_t> bits_;  // per connection: which seqs arrived
    std::size_t words_per_connection_ = 0;

    std::uint32_t next_to_open_ = 0;
    std::uint32_t in_progress_ = 0;
    std::uint64_t ramp_start_ns_ = 0;
    std::uint64_t last_timeout_check_ns_ = 0;
    std::uint64_t now_ns_ = 0;
    std::uint64_t pending_delivered_ = 0;
    bool settled_reported_ = false;

    std::string tls_plain_; // --tls: what one receive decrypted to (reused)

    std::vector<std::uint32_t> actors_; // connections that act, fixed when `go` is first seen
    std::vector<member_tally> tallies_; // presence: per connection, one per slot of its group
    std::uint64_t act_start_ns_ = 0;
    std::uint64_t actions_due_done_ = 0; // scheduled actions taken (sent or skipped)
    std::uint64_t pending_owed_ = 0;
    std::uint32_t joining_ = 0;
    bool wound_down_ = false;
    bool quiet_reported_ = false;
};

} // namespace ringcast::bench
