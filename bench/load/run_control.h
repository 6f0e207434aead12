// What the scenario's main thread, the publisher and the receiver threads share while a run is
// in progress. Everything else stays inside the thread that owns it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace ringcast::bench {

struct run_control {
    // Receivers leave their loop (and close their sockets) once this is set.
    std::atomic<bool> quit{false};
    // Receivers whose every connection has either subscribed or failed.
    std::atomic<std::uint32_t> settled_workers{0};
    // Connections that completed the handshake and subscribed, for progress read mid-ramp.
    std::atomic<std::uint32_t> established{0};
    // First copies of expected events (or raw frames, in the ceiling) received by all receivers.
    // Receivers add their local count once per loop iteration, not per frame, to keep the shared
    // cache line cold.
    std::atomic<std::uint64_t> delivered{0};
    // The closed-loop publisher sleeps until `delivered` reaches this value; the receiver that gets
    // there swaps it back to UINT64_MAX and writes `wake_fd`, so exactly one wake-up is sent.
    std::atomic<std::uint64_t> wake_at{UINT64_MAX};
    int wake_fd = -1;

    // `presence` and `whisper`: connections act (join/leave, send client events) between `go` and
    // `wind_down`. Before setting `go` the main thread fills `peers_per_group`: the established
    // connections of each group that must see one action (observers, or all members), read by
    // the receivers only after they saw `go` (release/acquire).
    std::atomic<bool> go{false};
    std::atomic<bool> wind_down{false};
    std::vector<std::uint64_t> peers_per_group;
    // Deliveries the actions so far should cause (added like `delivered`, once per loop iteration).
    std::atomic<std::uint64_t> owed{0};
    // Receivers that have nothing left to do after `wind_down` (presence: every churner has left).
    std::atomic<std::uint32_t> quiet_workers{0};
};

} // namespace ringcast::bench
