// CPU windows and the connection section of the records.
#include "scenario_common.h"

#include "clock.h"

#include <algorithm>
#include <unistd.h>

namespace ringcast::bench {

void cpu_window::begin(const receiver_pool& pool, int server_pid) {
    if (server_pid > 0) {
        server_begin_ = process_cpu_ns(server_pid);
    }
    machine_begin_ = read_machine_cpu();
    threads_begin_ = pool.thread_cpu_ns();
    self_begin_ = self_cpu_ns();
    begin_ns_ = now_ns();
}

void cpu_window::end(const receiver_pool& pool, int server_pid) {
    end_ns_ = now_ns();
    self_end_ = self_cpu_ns();
    threads_end_ = pool.thread_cpu_ns();
    machine_end_ = read_machine_cpu();
    if (server_pid > 0) {
        server_end_ = process_cpu_ns(server_pid);
    }
}

std::optional<std::uint64_t> cpu_window::server_cpu_ns() const {
    if (!server_begin_ || !server_end_) {
        return std::nullopt;
    }
    return *server_end_ - *server_begin_;
}

double cpu_window::bench_percent() const noexcept {
    double wall = static_cast<double>(end_ns_ - begin_ns_);
    return wall > 0 ? 100.0 * static_cast<double>(self_end_ - self_begin_) / wall : 0;
}

double cpu_window::busiest_receiver_percent() const noexcept {
    double wall = static_cast<double>(end_ns_ - begin_ns_);
    double busiest = 0;
    for (std::size_t i = 0; i < threads_begin_.size() && i < threads_end_.size(); ++i) {
        busiest = std::max(busiest, static_cast<double>(threads_end_[i] - threads_begin_[i]));
    }
    return wall > 0 ? 100.0 * busiest / wall : 0;
}

double cpu_window::machine_percent() const noexcept {
    return machine_busy_percent(machine_begin_, machine_end_);
}

double cpu_window::others_percent() const noexcept {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double wall = static_cast<double>(end_ns_ - begin_ns_);
    double server = 0;
    if (auto ns = server_cpu_ns(); ns && wall > 0) {
        server = 100.0 * static_cast<double>(*ns) / wall;
    }
    double accounted = (machine_percent() - irq_percent()) * static_cast<double>(cores > 0 ? cores : 1);
    return std::max(0.0, accounted - bench_percent() - server);
}

double cpu_window::irq_percent() const noexcept {
    return machine_irq_percent(machine_begin_, machine_end_);
}

void cpu_window::write(json_writer& w) const {
    w.key("load").begin_object();
    w.key("window_s").value(wall_s());
    if (auto server = server_cpu_ns()) {
        w.key("server_cpu_percent").value(wall_s() > 0 ? static_cast<double>(*server) / 1e7 / wall_s() : 0.0);
    } else {
        w.key("server_cpu_percent").null();
    }
    w.key("bench_cpu_percent").value(bench_percent());
    w.key("busiest_receiver_thread_percent").value(busiest_receiver_percent());
    w.key("bench_saturated").value(bench_saturated());
    w.key("machine_busy_percent").value(machine_percent());
    w.key("machine_irq_percent").value(irq_percent());
    w.key("other_processes_cpu_percent").value(others_percent());
    w.key("machine_shared").value(others_percent() >= shared_percent);
    w.end_object();
}

void write_connections(json_writer& w, const worker_result& r, std::optional<double> connects_per_second) {
    w.key("connections").begin_object();
    w.key("attempted").value(r.attempted);
    w.key("established").value(r.established);
    w.key("failed").value(r.failed);
    w.key("connects_per_second").value(connects_per_second);
    w.key("connect_latency_us");
    if (r.connect_latency.count() > 0) {
        write_latency(w, summarize_us(r.connect_latency));
    } else {
        w.null();
    }
    w.key("failures").begin_object();
    for (const auto& [reason, n] : r.failures) {
        w.key(reason).value(n);
    }
    w.end_object();
    w.key("disconnects").begin_object();
    for (const auto& [reason, n] : r.disconnects) {
        w.key(reason).value(n);
    }
    w.end_object();
    w.end_object();
}

std::optional<double> connect_rate(const worker_result& r, std::uint64_t started_ns) {
    if (r.established == 0 || r.last_established_ns <= started_ns) {
        return std::nullopt;
    }
    return static_cast<double>(r.established) /
           (static_cast<double>(r.last_established_ns - started_ns) / 1e9);
}

} // namespace ringcast::bench
