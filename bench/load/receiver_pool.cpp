// Splitting connections over receiver threads and merging their results.
#include "receiver_pool.h"

#include "clock.h"

#include <algorithm>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>

namespace ringcast::bench {

bool resolve_ipv4(const std::string& host, std::uint16_t port, sockaddr_in& out) {
    out = sockaddr_in{};
    out.sin_family = AF_INET;
    out.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &out.sin_addr) == 1) {
        return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
        return false;
    }
    out.sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
    freeaddrinfo(found);
    return true;
}

receiver_pool::receiver_pool(const options& o, client_mode mode, const sockaddr_in& address,
                             const layout& channels, std::uint64_t max_events, run_control& control,
                             peer_plan peers)
    : control_(control), channels_(channels) {
    unsigned threads = std::max(1U, std::min<unsigned>(o.threads, o.connections));
    std::uint32_t first = 0;
    for (unsigned t = 0; t < threads; ++t) {
        // Contiguous slices keep each channel group's connections mostly on one thread.
        std::uint32_t count = o.connections / threads + (t < o.connections % threads ? 1 : 0);
        worker_config c;
        c.mode = mode;
        c.server = &o.server;
        c.address = address;
        if (o.server.spread_port != 0 && t % 2 == 1) {
            c.address.sin_port = htons(o.server.spread_port); // the other node takes every other slice
        }
        c.first_connection = first;
        c.connection_count = count;
        c.concurrency = std::max<std::uint32_t>(1, o.concurrency / threads);
        c.connect_rate = o.connect_rate / threads;
        c.connect_timeout_ns = static_cast<std::uint64_t>(o.connect_timeout_s * 1e9);
        c.channels = channels;
        c.max_events = max_events;
        c.peers = peers;
        workers_.push_back(std::make_unique<client_worker>(std::move(c), control));
        first += count;
    }
}

receiver_pool::~receiver_pool() {
    stop();
}

void receiver_pool::start() {
    started_ns_ = now_ns();
    for (auto& w : workers_) {
        threads_.emplace_back([worker = w.get()] { worker->run(); });
        handles_.push_back(threads_.back().native_handle());
    }
}

bool receiver_pool::wait_settled(std::uint64_t deadline_ns) const {
    while (control_.settled_workers.load(std::memory_order_acquire) < workers_.size()) {
        if (now_ns() >= deadline_ns) {
            return false;
        }
        usleep(2000);
    }
    return true;
}

std::vector<std::uint64_t> receiver_pool::thread_cpu_ns() const {
    std::vector<std::uint64_t> out;
    for (pthread_t handle : handles_) {
        clockid_t clock{};
        timespec ts{};
        // A thread's CPU clock can be read from another thread, with nanosecond resolution.
        if (pthread_getcpuclockid(handle, &clock) == 0 && clock_gettime(clock, &ts) == 0) {
            out.push_back(static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
                          static_cast<std::uint64_t>(ts.tv_nsec));
        } else {
            out.push_back(0);
        }
    }
    return out;
}

std::vector<std::uint64_t> receiver_pool::subscribers_per_group() const {
    std::vector<std::uint64_t> out(channels_.groups(), 0);
    for (const auto& w : workers_) {
        w->add_established_per_group(out);
    }
    return out;
}

std::vector<std::uint64_t> receiver_pool::peers_per_group() const {
    std::vector<std::uint64_t> out(channels_.groups(), 0);
    for (const auto& w : workers_) {
        w->add_peers_per_group(out);
    }
    return out;
}

void receiver_pool::stop() {
    control_.quit.store(true, std::memory_order_release);
    for (std::thread& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
}

worker_result receiver_pool::merged() const {
    worker_result all;
    for (const auto& w : workers_) {
        merge_result(all, w->result());
    }
    return all;
}

std::uint64_t receiver_pool::count_lost(const std::vector<std::uint8_t>& published_ok) const {
    std::uint64_t lost = 0;
    for (const auto& w : workers_) {
        lost += w->count_lost(published_ok);
    }
    return lost;
}

void receiver_pool::count_peer_deliveries(std::uint64_t& lost, std::uint64_t& duplicated) const {
    std::vector<peer_count> by_connection(channels_.connections);
    for (const auto& w : workers_) {
        w->add_peer_counts(by_connection);
    }
    for (const auto& w : workers_) {
        w->count_peer_deliveries(by_connection, lost, duplicated);
    }
}

void merge_result(worker_result& into, const worker_result& from) {
    into.attempted += from.attempted;
    into.established += from.established;
    into.failed += from.failed;
    for (const auto& [reason, n] : from.failures) {
        into.failures[reason] += n;
    }
    for (const auto& [reason, n] : from.disconnects) {
        into.disconnects[reason] += n;
    }
    into.connect_latency.merge(from.connect_latency);
    into.delivery_latency.merge(from.delivery_latency);
    into.deliveries += from.deliveries;
    into.duplicates += from.duplicates;
    into.unexpected += from.unexpected;
    into.out_of_order += from.out_of_order;
    into.churn_joined += from.churn_joined;
    into.churn_completed += from.churn_completed;
    into.churn_skipped += from.churn_skipped;
    into.churn_events_seen += from.churn_events_seen;
    into.other_messages += from.other_messages;
    // Counted problems keep the first example of any worker that had one.
    auto add_problems = [](std::uint64_t& n, std::string& first, std::uint64_t more,
                           const std::string& example) {
        if (n == 0 && more > 0) {
            first = example;
        }
        n += more;
    };
    add_problems(into.pusher_errors, into.first_pusher_error, from.pusher_errors, from.first_pusher_error);
    into.recv_completions += from.recv_completions;
    into.actions += from.actions;
    into.skipped_actions += from.skipped_actions;
    into.echoed += from.echoed;
    into.member_added += from.member_added;
    into.member_removed += from.member_removed;
    into.joins_refused += from.joins_refused;
    into.presence_checked += from.presence_checked;
    add_problems(into.presence_not_sane, into.first_presence_problem, from.presence_not_sane,
                 from.first_presence_problem);
    into.nobufs += from.nobufs;
    auto earliest = [](std::uint64_t a, std::uint64_t b) {
        return a == 0 ? b : (b == 0 ? a : std::min(a, b));
    };
    into.first_established_ns = earliest(into.first_established_ns, from.first_established_ns);
    into.last_established_ns = std::max(into.last_established_ns, from.last_established_ns);
    into.last_delivery_ns = std::max(into.last_delivery_ns, from.last_delivery_ns);
    if (into.setup_error.empty()) {
        into.setup_error = from.setup_error;
    }
}

} // namespace ringcast::bench
