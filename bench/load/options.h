// Command-line options of ringcast-bench: the target server, the scenario's size and bounds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringcast::net {
class tls_context;
} // namespace ringcast::net

namespace ringcast::bench {

using net::tls_context;

struct target {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    // Where the publisher's HTTP API requests go (0: `port`): another node of a cluster, so every
    // delivery crosses Redis.
    std::uint16_t publish_port = 0;
    // Another node for every other client thread's connections (0: none): the subscribers are
    // spread over two nodes, as a balancer would spread them.
    std::uint16_t spread_port = 0;
    std::string path; // the server's URL prefix (Reverb's server.path), e.g. "/ws"; empty for none
    std::string app_id = "bench";
    std::string app_key = "bench-key";
    std::string app_secret = "bench-secret";
    bool tls = false;          // wss:// and https:// (OpenSSL over the bench's own io_uring I/O)
    bool tls_insecure = false; // accept any certificate
    std::string ca_file;       // verify against these CA certificates instead of the system's
    // Created once from the three above by parse_options when --tls is given; shared read-only.
    std::shared_ptr<const tls_context> tls_ctx;
};

struct options {
    std::string scenario;
    target server;

    std::uint32_t connections = 1000;
    unsigned threads = 0;            // receiver threads; 0 = one per online core
    std::uint32_t concurrency = 256; // handshakes in flight across all threads
    double connect_rate = 0;         // new connections per second; 0 = as fast as `concurrency` allows
    double connect_timeout_s = 15;

    double duration_s = 10;
    double rate = 0;                 // events per second; 0 = closed loop (next event once the last arrived)
    std::uint32_t window = 1;        // closed loop: events allowed in flight (1 = one at a time)
    std::uint32_t publishers = 4;    // keep-alive HTTP connections of the publisher
    std::uint32_t batch = 1;         // events per request; > 1 uses POST /apps/{id}/batch_events
    std::uint32_t payload_bytes = 0; // pad the event data to this many bytes; 0 = only the stamp
    std::string channel;             // channel name base; empty = "bench" ("whisper" for `whisper`)
    std::uint32_t channels_per_event = 100; // `channels`: one event reaches this many channels
    bool public_channels = false;           // `channels`: public instead of private (signed) channels
    bool floor = false;                     // `connect`: against a forked minimal server, not --host/--port
    std::uint32_t group_size = 0;           // presence, whisper: connections per channel; 0 = default
    std::uint32_t observers = 2;            // presence: connections per channel that stay subscribed
    std::uint32_t client_event_limit = 10;  // whisper: the server's client events per second per connection
    std::uint64_t max_events = 0;           // 0 = derived from rate, duration and memory
    double churn_rate = 20;                 // soak: churn connections opened per second
    double churn_stay_s = 0.5;              // soak: how long each churn connection stays subscribed
    std::uint32_t presence_limit = 100;     // soak: the server's presence members per channel
    double drain_s = 5;

    std::uint32_t coalesce = 16; // ceiling: frames per send in the coalesced phase
    unsigned sender_threads = 0; // ceiling: 0 = one per online core

    int server_pid = 0;
    double ceiling_dps = 0;    // the one-frame-per-send ceiling at this connection count, if known
    double ceiling_cpu_us = 0; // the ceiling sender's CPU µs per delivery at this count, if known
    std::string label;         // what the target is, e.g. "ringcast 0.1.0"
    std::string json_path;     // where the JSON record goes; empty = stdout
    bool quiet = false;

    // `report` subcommand
    std::string out_dir;
    std::vector<std::string> inputs;
};

// soak: churn connections open at once, at most: one second of handshake on a busy machine plus
// the stay, at the churn rate, and two to spare.
[[nodiscard]] std::uint32_t churn_slots(const options& o) noexcept;

// Parses argv; prints usage and exits on --help or on an error (exit code 2).
[[nodiscard]] options parse_options(int argc, char** argv);

} // namespace ringcast::bench
