// CPU windows and the connection section of the records.
#include "scenario_common.h"

#include "clock.h"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

int listen_loopback(std::uint16_t& port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; // any free port: the ceiling and the floor need no fixed address
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
}

bool resolve_target(const options& o, sockaddr_in& address) {
    if (resolve_ipv4(o.server.host, o.server.port, address)) {
        return true;
    }
    note(o, "cannot resolve %s", o.server.host.c_str());
    return false;
}

bool open_connections(const options& o, receiver_pool& pool, json_writer& w) {
    note(o, "%s: opening %u connections to %s:%u", o.scenario.c_str(), o.connections, o.server.host.c_str(),
         o.server.port);
    pool.start();
    std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>((o.connect_timeout_s * 2 + o.connections / 200.0) * 1e9);
    if (pool.wait_settled(deadline)) {
        return true;
    }
    pool.stop();
    worker_result r = pool.merged();
    w.key("figures").begin_object();
    write_standard_figures(w, {});
    w.end_object();
    write_connections(w, r, connect_rate(r, pool.started_ns()));
    w.key("complete").value(false);
    w.key("error").value("connections did not settle in time");
    note(o, "connections did not settle in time");
    [[maybe_unused]] bool written = emit_record(w, o);
    return false;
}

void drain(const options& o, const run_control& control, std::uint64_t owed, std::uint32_t quiet_workers) {
    std::uint64_t start = now_ns();
    std::uint64_t last = control.delivered.load();
    std::uint64_t last_change = start;
    while (true) {
        std::uint64_t now = now_ns();
        std::uint64_t got = control.delivered.load();
        bool quiet = control.quiet_workers.load() >= quiet_workers;
        if (quiet_workers > 0) {
            owed = control.owed.load();
        }
        if ((quiet && got >= owed) || now - start >= static_cast<std::uint64_t>(o.drain_s * 1e9)) {
            return;
        }
        if (got != last || !quiet) {
            last = got;
            last_change = now;
        } else if (now - last_change > 1'000'000'000) {
            return;
        }
        usleep(1000);
    }
}

standard_figures delivery_figures(const options& o, const worker_result& r, const cpu_window& cpu,
                                  std::uint64_t start_ns, std::uint64_t pool_started_ns) {
    standard_figures f;
    double window_s =
        r.last_delivery_ns > start_ns ? static_cast<double>(r.last_delivery_ns - start_ns) / 1e9 : 0;
    if (r.deliveries > 0 && window_s > 0) {
        f.deliveries_per_second = static_cast<double>(r.deliveries) / window_s;
    }
    if (auto server = cpu.server_cpu_ns(); server && r.deliveries > 0) {
        f.server_cpu_us_per_delivery =
            static_cast<double>(*server) / 1000.0 / static_cast<double>(r.deliveries);
    }
    f.connects_per_second = connect_rate(r, pool_started_ns);
    if (r.delivery_latency.count() > 0) {
        f.latency = summarize_us(r.delivery_latency);
    }
    if (o.ceiling_dps > 0) {
        f.ceiling_deliveries_per_second = o.ceiling_dps;
        if (f.deliveries_per_second) {
            f.percent_of_ceiling = 100.0 * *f.deliveries_per_second / o.ceiling_dps;
        }
    }
    return f;
}

std::uint64_t disconnected(const worker_result& r) {
    std::uint64_t n = 0;
    for (const auto& [reason, count] : r.disconnects) {
        n += count;
    }
    return n;
}

void write_receiver_sections(json_writer& w, const worker_result& r, const standard_figures& f,
                             const cpu_window& cpu) {
    w.key("latency_spectrum_us");
    write_spectrum(w, r.delivery_latency);
    w.key("pusher_errors").value(r.pusher_errors);
    w.key("first_pusher_error").value(r.first_pusher_error);
    w.key("receiver").begin_object();
    w.key("recv_completions").value(r.recv_completions);
    w.key("enobufs").value(r.nobufs);
    w.key("other_messages").value(r.other_messages);
    w.end_object();
    write_connections(w, r, f.connects_per_second);
    cpu.write(w);
}

void note_delivery_summary(const options& o, const standard_figures& f, const cpu_window& cpu) {
    if (f.latency) {
        note(o, "  latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f", f.latency->p50,
             f.latency->p90, f.latency->p99, f.latency->p999, f.latency->max);
    }
    if (f.server_cpu_us_per_delivery) {
        note(o, "  server CPU: %.3f us per delivery", *f.server_cpu_us_per_delivery);
    }
    if (cpu.bench_saturated()) {
        note(o, "  WARNING: a receiver thread was %.0f%% busy: the bench may be the bottleneck",
             cpu.busiest_receiver_percent());
    }
}

} // namespace ringcast::bench
