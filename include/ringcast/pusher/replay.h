// The takeover journal: what a server that has just taken a port over (`ringcast restart`)
// replays to a channel's subscribers as they arrive, so a client that moved from the old
// server misses nothing.
//
// Why it is exact: during a restart every publish lands on exactly one of the two servers. The
// old one delivers all it accepted before it closes its clients (its stop answers requests in
// progress first); the new one has delivered its own to nobody yet, since the clients are still
// on the old one. So what a moving client missed is exactly the new server's events on the
// channel before it subscribed here, which each shard records as it fans them out, in the order
// it delivers them (events reaching the shard after the subscription are delivered live: no
// event twice). Each shard keeps its own journal: nothing is shared between threads.
//
// Bounded: it records for a window after start (long enough for the old server to stop and
// its clients to come back) and at most max_entries events per shard. Its cost outside a
// restart's first seconds is one comparison per publish. What it changes: a client that
// subscribes during the window but was never on the old server also receives the events of
// the window published before it subscribed. Not recorded: the protocol's own events
// (pusher:*, pusher_internal:*), which the subscription answers carry, and cache channels,
// whose last event the subscription already delivers.
#pragma once

#include "ringcast/net/frame.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::pusher {

class replay_journal {
public:
    static constexpr std::size_t max_entries = 8192;

    // Records events until now_ms + window_ms (0: never).
    void open(std::uint64_t now_ms, std::uint64_t window_ms) noexcept {
        until_ms_ = window_ms ? now_ms + window_ms : 0;
    }
    [[nodiscard]] bool recording(std::uint64_t now_ms) const noexcept { return now_ms < until_ms_; }

    // An event this shard fans out on a channel.
    void record(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                std::uint64_t now_ms);
    // The events recorded on the channel, oldest first (none once the window has closed).
    [[nodiscard]] std::vector<net::frame_ref> missed(std::uint32_t app, std::string_view channel,
                                                     std::uint64_t now_ms) const;

private:
    struct entry {
        std::uint32_t app;
        std::string channel;
        net::frame_ref frame;
    };
    std::vector<entry> entries_;
    std::uint64_t until_ms_ = 0;
};

} // namespace ringcast::pusher
