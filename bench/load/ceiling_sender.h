// The ceiling's "server": no HTTP, no WebSocket state, no JSON — it accepts N loopback
// connections and writes the same pre-framed 66-byte text frame to each of them as fast as the
// kernel takes it, keeping one send in flight per socket (or, paced, one pass over every socket
// at a fixed rate). It runs in a forked child so that its
// CPU time is measured apart from the receivers and so that each side stays under the open-file
// limit. What it reaches is the machine's limit for the fan-out pattern.
#pragma once

#include <cstdint>
#include <string>

namespace ringcast::bench {

// One 2-byte WebSocket header and a 64-byte Pusher-looking text payload.
inline constexpr std::size_t ceiling_frame_bytes = 66;

struct ceiling_command {
    std::uint32_t frames_per_send = 0; // 0 = exit
    std::uint64_t duration_ns = 0;
    // 0: back to back (one send in flight per socket). Otherwise one frame to every socket this
    // many times a second, idle in between: what a fan-out of events arriving at that rate needs.
    double passes_per_second = 0;
};

struct ceiling_report {
    std::uint32_t accepted = 0;
    std::uint64_t sends = 0;
    std::uint64_t bytes = 0;
    std::uint64_t errors = 0;
    std::uint64_t cpu_ns = 0;  // this process (every sender thread) over the phase
    std::uint64_t wall_ns = 0; // first send to last completion
};

// The child's whole life: accept `connections` sockets on `listen_fd` (giving up after
// `accept_timeout_ns`), report how many arrived, then run one phase per command read from
// `command_fd`, answering each with a report on `report_fd`. Returns the exit status.
[[nodiscard]] int run_ceiling_sender(int listen_fd, std::uint32_t connections, unsigned threads,
                                     std::uint64_t accept_timeout_ns, int command_fd, int report_fd);

// Whole-struct pipe I/O between the bench and its sender child (retries short reads and EINTR).
[[nodiscard]] bool write_exact(int fd, const void* data, std::size_t size);
[[nodiscard]] bool read_exact(int fd, void* data, std::size_t size);

// The frame the sender writes, for the receivers' tests and the record.
[[nodiscard]] std::string ceiling_frame();

} // namespace ringcast::bench
