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

} // namespace ringcast::bench
