// The receiver threads of one run: splits the connections over one client_worker per thread,
// starts them, waits until every connection has subscribed or failed, and after stop() merges
// what they measured.
#pragma once

#include "client_worker.h"

#include <memory>
#include <pthread.h>
#include <thread>
#include <vector>

namespace ringcast::bench {

// Resolves an IPv4 host name or address; false when it cannot.
[[nodiscard]] bool resolve_ipv4(const std::string& host, std::uint16_t port, sockaddr_in& out);

class receiver_pool {
public:
    receiver_pool(const options& o, client_mode mode, const sockaddr_in& address, const layout& channels,
                  std::uint64_t max_events, run_control& control, peer_plan peers = {});
    ~receiver_pool();
    receiver_pool(const receiver_pool&) = delete;
    receiver_pool& operator=(const receiver_pool&) = delete;

    void start();
    // Waits until every connection is settled or `deadline_ns` (monotonic) passes; true if settled.
    [[nodiscard]] bool wait_settled(std::uint64_t deadline_ns) const;
    // CPU time of each receiver thread so far (ns); valid while the threads run.
    [[nodiscard]] std::vector<std::uint64_t> thread_cpu_ns() const;
    // Established connections of each event group (valid once settled).
    [[nodiscard]] std::vector<std::uint64_t> subscribers_per_group() const;
    // presence, whisper: established observers (or members) of each group (valid once settled).
    [[nodiscard]] std::vector<std::uint64_t> peers_per_group() const;
    // Tells the threads to close everything and joins them.
    void stop();

    // After stop():
    [[nodiscard]] worker_result merged() const;
    [[nodiscard]] std::uint64_t count_lost(const std::vector<std::uint8_t>& published_ok) const;
    // presence, whisper: what connections missed of their peers' actions, and saw too often.
    void count_peer_deliveries(std::uint64_t& lost, std::uint64_t& duplicated) const;
    [[nodiscard]] std::uint64_t started_ns() const noexcept { return started_ns_; }
    [[nodiscard]] std::uint32_t threads() const noexcept {
        return static_cast<std::uint32_t>(workers_.size());
    }

private:
    run_control& control_;
    layout channels_;
    std::vector<std::unique_ptr<client_worker>> workers_;
    std::vector<std::thread> threads_;
    std::vector<pthread_t> handles_; // for reading each thread's CPU clock while it runs
    std::uint64_t started_ns_ = 0;
};

// Adds `from` into `into` (counters, maps and histograms).
void merge_result(worker_result& into, const worker_result& from);

} // namespace ringcast::bench
