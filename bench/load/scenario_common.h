// Pieces the scenarios share: measuring a window of CPU time (server, bench, machine) and
// writing the connection-ramp and CPU sections of a record.
#pragma once

#include "receiver_pool.h"
#include "record.h"
#include "sys_stats.h"

#include <optional>
#include <vector>

namespace ringcast::bench {

// A receiver thread busier than this is treated as saturated: its numbers may be the bench's limit.
inline constexpr double saturated_percent = 90.0;

// Other processes using more than this much CPU (% of one core) make a run "shared": its
// throughput and latency are not the target's alone.
inline constexpr double shared_percent = 15.0;

class cpu_window {
public:
    void begin(const receiver_pool& pool, int server_pid);
    void end(const receiver_pool& pool, int server_pid);

    [[nodiscard]] double wall_s() const noexcept { return static_cast<double>(end_ns_ - begin_ns_) / 1e9; }
    // Server CPU time over the window (ns), when a pid was given and readable at both ends.
    [[nodiscard]] std::optional<std::uint64_t> server_cpu_ns() const;
    [[nodiscard]] double bench_percent() const noexcept;            // whole bench process, % of one core
    [[nodiscard]] double busiest_receiver_percent() const noexcept; // % of one core
    [[nodiscard]] double machine_percent() const noexcept;          // % of all cores
    [[nodiscard]] double irq_percent() const noexcept;              // % of all cores
    // CPU used by neither the bench nor the server nor interrupts (other processes), in % of one
    // core: when it is large the machine was shared and the figures are noisy.
    [[nodiscard]] double others_percent() const noexcept;
    [[nodiscard]] bool bench_saturated() const noexcept {
        return busiest_receiver_percent() >= saturated_percent;
    }

    // Writes "load": {...} into an open object.
    void write(json_writer& w) const;

private:
    std::uint64_t begin_ns_ = 0;
    std::uint64_t end_ns_ = 0;
    std::uint64_t self_begin_ = 0;
    std::uint64_t self_end_ = 0;
    std::optional<std::uint64_t> server_begin_;
    std::optional<std::uint64_t> server_end_;
    std::vector<std::uint64_t> threads_begin_;
    std::vector<std::uint64_t> threads_end_;
    machine_cpu machine_begin_;
    machine_cpu machine_end_;
};

// Writes "connections": {...}: attempted, established, failures by reason, connect latency.
void write_connections(json_writer& w, const worker_result& r, std::optional<double> connects_per_second);

// Connections per second over the ramp: established / (last subscription_succeeded - start).
[[nodiscard]] std::optional<double> connect_rate(const worker_result& r, std::uint64_t started_ns);

// Resolves --host and --port into `address`; says so and returns false when it cannot.
[[nodiscard]] bool resolve_target(const options& o, sockaddr_in& address);

// A listening socket on 127.0.0.1 at a free port (written to `port`) for a forked stand-in
// server (the ceiling's sender, the connect floor); -1 on failure.
[[nodiscard]] int listen_loopback(std::uint16_t& port);

// Starts the pool and waits for every connection to subscribe or fail. When the ramp does not
// settle, stops the pool, writes the incomplete record (begun in `w`) and returns false.
[[nodiscard]] bool open_connections(const options& o, receiver_pool& pool, json_writer& w);

// Waits until `delivered` reaches `owed` (with `quiet_workers` > 0: until that many receivers are
// quiet and `delivered` reaches control.owed), or nothing new arrived for a second, or --drain passed.
void drain(const options& o, const run_control& control, std::uint64_t owed, std::uint32_t quiet_workers = 0);

// The delivery figures of a run whose measured window began at `start_ns`: deliveries per second
// up to the last arrival, server CPU per delivery, latency, connects per second, the ceiling.
[[nodiscard]] standard_figures delivery_figures(const options& o, const worker_result& r,
                                                const cpu_window& cpu, std::uint64_t start_ns,
                                                std::uint64_t pool_started_ns);

// Disconnects of established connections, over all reasons.
[[nodiscard]] std::uint64_t disconnected(const worker_result& r);

// Writes what the receivers saw besides the figures: the latency spectrum, Pusher errors, receive
// counters, the connection section and the load section.
void write_receiver_sections(json_writer& w, const worker_result& r, const standard_figures& f,
                             const cpu_window& cpu);

// Progress lines for a delivery run's latency, server CPU and receiver saturation.
void note_delivery_summary(const options& o, const standard_figures& f, const cpu_window& cpu);

} // namespace ringcast::bench
