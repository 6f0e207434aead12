// The metrics scrape: GET /metrics on the metrics listener (shard 0 accepts it; it is never
// served on the public port) gathers what every thread counts and answers it in Prometheus's
// text format. Each shard counts its own (shard::io_metrics, pusher::metrics, http_metrics
// below), the webhook thread and the Redis bridge theirs; the scrape reads them all with relaxed
// loads (core/metrics.h), so counting costs the hot path a plain add and no shared cache line.
// Names follow soketi's where soketi has the figure (its Grafana dashboards keep working);
// the rest are ringcast_*. README's "Metrics" lists them all.
#pragma once

#include "ringcast/cluster/bridge.h"
#include "ringcast/config/config.h"
#include "ringcast/core/metrics.h"
#include "ringcast/pusher/shared_counters.h"
#include "ringcast/shard/shard.h"
#include "ringcast/webhook/dispatcher.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringcast::server {

// What an HTTP request asked for: the API's endpoints (api::endpoint's order), the health
// check, and anything else (a 404, a 426 for a WebSocket path without the upgrade, a bad request).
enum class http_route : std::uint8_t {
    events,
    batch_events,
    channels,
    channel,
    users,
    terminate_connections,
    connections,
    up,
    other,
    count
};
inline constexpr const char* http_route_names[] = {"events",      "batch_events", "channels",
                                                   "channel",     "users",        "terminate_connections",
                                                   "connections", "up",           "other"};
// The statuses counted one by one; any other is "other".
inline constexpr int counted_statuses[] = {200, 400, 401, 403, 404, 405, 408, 413, 426, 429, 431, 500, 503};

// One shard's HTTP requests (its thread writes).
struct http_metrics {
    static constexpr std::size_t routes = static_cast<std::size_t>(http_route::count);
    static constexpr std::size_t statuses = std::size(counted_statuses) + 1;

    // A response to a request for `route` went out with `status`, `ns` after the request was read.
    void answered(http_route route, int status, std::uint64_t ns) noexcept {
        std::size_t s = 0;
        while (s < std::size(counted_statuses) && counted_statuses[s] != status) {
            ++s;
        }
        auto r = static_cast<std::size_t>(route);
        requests[r][s].add();
        latency[r].observe_ns(ns);
    }

    std::array<std::array<core::counter, statuses>, routes> requests;
    std::array<core::histogram, routes> latency;
};

// Everything a scrape reads besides the shards' handlers. Set up by main before the shards run.
struct scrape_sources {
    shard::shard_group* group = nullptr;
    pusher::shared_counters* counters = nullptr;
    const webhook::metrics* webhooks = nullptr;
    const cluster::metrics* cluster = nullptr; // null on a single node
};

// The whole scrape, with the apps of `settings` (the scraping shard's current generation).
[[nodiscard]] std::string scrape(const scrape_sources& from, const config::server& settings);

} // namespace ringcast::server
