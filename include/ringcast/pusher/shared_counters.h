// The few counters that must be exact across shards at the instant they are checked: an app's
// open connections (max_connections) and its HTTP API rates (events and reads per second).
// They are atomics rather than owner-shard state because the check sits on the connect and
// publish paths, where a round trip through another shard's queue would add latency to every
// request for the sake of one integer. Everything else crosses shards only as mail.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast::pusher {

struct app_counters {
    std::atomic<std::uint32_t> connections{0};
    // Debug console streams open on the app (pusher/console.h): shards record only while > 0.
    std::atomic<std::uint32_t> console_watchers{0};
    // A one-second window per rate: (unix second << 32) | count, updated with CAS.
    std::atomic<std::uint64_t> backend_events{0};
    std::atomic<std::uint64_t> read_requests{0};
};

class shared_counters {
public:
    // Room for every app a reload could add: slots never move, so shards can hold on to them
    // while the main thread installs new settings.
    static constexpr std::size_t max_apps = 4096;

    shared_counters() : apps_(std::make_unique<app_counters[]>(max_apps)) {}

    app_counters& app(std::size_t i) noexcept { return apps_[i]; }

    // Set by the Redis bridge while it cannot reach Redis (never on a single node): the HTTP API
    // then refuses publishes that could not reach the other nodes, and /up says so.
    std::atomic<bool> redis_down{false};
    // In a cluster: a shard has told the bridge that connections changed and the bridge has not
    // sent the counts to Redis yet (so a burst of connects posts one mail, not one each).
    std::atomic<bool> connections_changed{false};

    // Takes `amount` from a per-second allowance of `limit` (0 = unlimited). False when the
    // current second's allowance would be exceeded (nothing is taken then).
    static bool take(std::atomic<std::uint64_t>& window, std::uint32_t now_s, std::uint32_t amount,
                     std::uint32_t limit) noexcept {
        if (limit == 0) {
            return true;
        }
        std::uint64_t seen = window.load(std::memory_order_relaxed);
        while (true) {
            auto second = static_cast<std::uint32_t>(seen >> 32);
            std::uint64_t used = second == now_s ? (seen & 0xffffffffu) : 0;
            if (used + amount > limit) {
                return false;
            }
            std::uint64_t next = (static_cast<std::uint64_t>(now_s) << 32) | (used + amount);
            // relaxed: the counter orders nothing else; the CAS alone makes the count exact.
            if (window.compare_exchange_weak(seen, next, std::memory_order_relaxed)) {
                return true;
            }
        }
    }

    // Reserves a connection slot under `limit` (0 = unlimited).
    static bool reserve(std::atomic<std::uint32_t>& count, std::uint32_t limit) noexcept {
        std::uint32_t now = count.fetch_add(1, std::memory_order_relaxed);
        if (limit != 0 && now >= limit) {
            count.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        return true;
    }

private:
    std::unique_ptr<app_counters[]> apps_;
};

} // namespace ringcast::pusher
