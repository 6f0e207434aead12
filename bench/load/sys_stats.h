// What the bench reads about processes and the machine: the server's RSS, open files and CPU
// time from /proc, its own CPU time from getrusage, whole-machine busy time, and the machine's identity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ringcast::bench {

// VmRSS of `pid` in bytes (/proc/PID/status), or nothing when the process is gone or unreadable.
[[nodiscard]] std::optional<std::uint64_t> process_rss_bytes(int pid);
// Open file descriptors of `pid` (entries of /proc/PID/fd), or nothing when unreadable.
[[nodiscard]] std::optional<std::uint64_t> process_fd_count(int pid);
// utime + stime of `pid` in nanoseconds (/proc/PID/stat; clock-tick resolution, 10 ms here).
[[nodiscard]] std::optional<std::uint64_t> process_cpu_ns(int pid);
// utime + stime of this whole process / of the calling thread (getrusage, microsecond resolution).
[[nodiscard]] std::uint64_t self_cpu_ns() noexcept;
[[nodiscard]] std::uint64_t thread_cpu_ns() noexcept;

// Aggregate CPU time from /proc/stat, to tell whether the machine as a whole was saturated.
struct machine_cpu {
    std::uint64_t busy_ticks = 0;
    std::uint64_t irq_ticks = 0; // hard + soft interrupts: on loopback, mostly our own TCP traffic
    std::uint64_t total_ticks = 0;
};
[[nodiscard]] machine_cpu read_machine_cpu();
// Busy share of all cores between two readings, in percent (100 = every core busy).
[[nodiscard]] double machine_busy_percent(const machine_cpu& before, const machine_cpu& after) noexcept;
// Interrupt share of all cores between two readings, in percent. With IRQ time accounting (as
// here) this time is charged to no process, neither the server nor the bench.
[[nodiscard]] double machine_irq_percent(const machine_cpu& before, const machine_cpu& after) noexcept;

struct machine_info {
    std::string hostname;
    std::string kernel;         // uname -r
    std::string kernel_version; // uname -v
    std::string arch;
    std::string cpu_model;
    unsigned cores = 0;
    std::uint64_t memory_bytes = 0;
    std::uint64_t open_file_limit = 0;
    double loadavg_1m = 0; // a busy machine before the run already explains noisy figures
};
[[nodiscard]] machine_info read_machine_info();

} // namespace ringcast::bench
