// The publisher: signed POST /apps/{id}/events (or batch_events) over a few keep-alive HTTP
// connections, on its own thread and io_uring ring. Open loop (`rate` events per second, on a
// fixed schedule) or closed loop (the next event once the previous ones reached every subscriber,
// with at most `window` events in flight), so "events arrive one at a time" can be measured too.
#pragma once

#include "histogram.h"
#include "layout.h"
#include "options.h"
#include "run_control.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ringcast::bench {

struct publish_plan {
    double rate = 0;          // events per second; 0 = closed loop
    std::uint32_t window = 1; // closed loop only
    std::uint32_t batch = 1;
    std::uint32_t connections = 2;
    std::uint32_t payload_bytes = 0;
    std::uint64_t max_events = 0;
    std::uint64_t duration_ns = 0;
    layout channels;
    // Established subscribers of each event group: the deliveries each event should cause.
    std::vector<std::uint64_t> subscribers_per_group;
};

struct publish_result {
    std::string setup_error;
    std::uint64_t events_sent = 0;
    std::uint64_t events_ok = 0;  // acknowledged with HTTP 200
    std::vector<std::uint8_t> ok; // by seq: 1 when acknowledged with 200
    std::uint64_t requests = 0;
    std::map<int, std::uint64_t> statuses; // HTTP status (0 = connection error) -> responses
    std::string first_error;
    std::uint64_t late_events = 0;         // open loop: sent over 1 ms behind schedule
    std::uint64_t stalls = 0;              // closed loop: gave up waiting for a full fan-out after 1 s
    std::uint64_t expected_deliveries = 0; // over acknowledged events
    histogram request_latency;             // ns from send to the full response
    std::uint64_t start_ns = 0;
    std::uint64_t last_send_ns = 0;
    std::uint64_t end_ns = 0;
};

// Runs on the calling thread until the duration has passed (or max_events were sent) and every
// response has arrived.
[[nodiscard]] publish_result run_publisher(const target& server, const publish_plan& plan,
                                           run_control& control);

// A blocking TCP connection to host:port (resolved with getaddrinfo), with TCP_NODELAY; -errno on failure.
[[nodiscard]] int connect_tcp(const std::string& host, std::uint16_t port);

} // namespace ringcast::bench
