// `connect`: ramp N connections through the whole Pusher handshake and one subscription, then
// measure how fast that went and what the server's RSS grew by per connection.
//
// The RSS figure is taken over the second half of the ramp: the first connections also pay the
// server's one-off costs (receive buffers touched for the first time, tables growing to a working
// size, allocator arenas), which a user adding connections to a running server does not see
// again. The growth over the whole ramp is in the record too.
//
// With --floor the target is no server but the connect floor (handshake_floor.h), forked here:
// the same ramp against the least work a server must do, for the machine's floor of CPU per
// connection.
#include "clock.h"
#include "handshake_floor.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <algorithm>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

int connect_ramp(const options& o) {
    machine_info machine = read_machine_info();
    sockaddr_in address{};
    if (!resolve_target(o, address)) {
        return 1;
    }
    layout channels;
    channels.channel = o.channel;
    channels.connections = o.connections;

    std::optional<std::uint64_t> rss_before;
    if (o.server_pid > 0) {
        rss_before = process_rss_bytes(o.server_pid);
        if (!rss_before) {
            note(o, "cannot read /proc/%d/status: is the server running?", o.server_pid);
            return 1;
        }
    }
    run_control control;
    receiver_pool pool(o, client_mode::pusher, address, channels, 0, control);
    cpu_window cpu;
    note(o, "connect: opening %u connections to %s:%u", o.connections, o.server.host.c_str(), o.server.port);
    pool.start();
    cpu.begin(pool, o.server_pid);
    // Every connection either subscribes or fails by its own timeout; the overall bound only
    // guards against a bench bug.
    std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>((o.connect_timeout_s * 2 + o.connections / 200.0) * 1e9);
    // Sample the RSS once half the connections are up; the ramp goes on meanwhile.
    std::optional<std::uint64_t> rss_mid;
    std::uint32_t established_mid = 0;
    while (o.server_pid > 0 && !pool.wait_settled(std::min(deadline, now_ns() + 2'000'000))) {
        std::uint32_t up = control.established.load(std::memory_order_relaxed);
        if (up >= o.connections / 2 && !rss_mid) {
            rss_mid = process_rss_bytes(o.server_pid);
            established_mid = up;
        }
        if (now_ns() >= deadline) {
            break;
        }
    }
    bool settled = pool.wait_settled(deadline);
    cpu.end(pool, o.server_pid);
    // Give the server a moment to finish what it does after the last reply (e.g. free handshake
    // buffers) before reading its RSS.
    usleep(300'000);
    std::optional<std::uint64_t> rss_after;
    if (o.server_pid > 0) {
        rss_after = process_rss_bytes(o.server_pid);
    }
    pool.stop();
    worker_result r = pool.merged();

    standard_figures f;
    f.connects_per_second = connect_rate(r, pool.started_ns());
    auto growth_per_connection = [&](std::optional<std::uint64_t> from, std::uint32_t from_established) {
        std::optional<double> per;
        if (from && rss_after && r.established > from_established) {
            per = (static_cast<double>(*rss_after) - static_cast<double>(*from)) /
                  (r.established - from_established);
        }
        return per;
    };
    std::optional<double> whole_ramp = growth_per_connection(rss_before, 0);
    f.rss_bytes_per_connection = rss_mid ? growth_per_connection(rss_mid, established_mid) : whole_ramp;
    json_writer w;
    begin_record(w, o, machine);
    w.key("figures").begin_object();
    write_standard_figures(w, f);
    w.key("established").value(r.established);
    w.key("failed").value(r.failed);
    w.key("server_rss_before_bytes").value(rss_before);
    w.key("server_rss_mid_bytes").value(rss_mid);
    w.key("established_mid").value(established_mid);
    w.key("server_rss_after_bytes").value(rss_after);
    w.key("rss_bytes_per_connection_whole_ramp").value(whole_ramp);
    if (auto server = cpu.server_cpu_ns(); server && r.established > 0) {
        w.key("server_cpu_us_per_connection").value(static_cast<double>(*server) / 1000.0 / r.established);
    } else {
        w.key("server_cpu_us_per_connection").null();
    }
    w.end_object();
    write_connections(w, r, f.connects_per_second);
    cpu.write(w);
    std::string error = r.setup_error;
    if (error.empty() && !settled) {
        error = "ramp did not settle in time";
    }
    if (error.empty() && r.failed > 0) {
        error = std::to_string(r.failed) + " connections failed (see connections.failures)";
    }
    w.key("complete").value(error.empty());
    w.key("error").value(error);

    note(o, "connect: %u established, %u failed, %.0f connects/s, %s bytes RSS per connection%s",
         r.established, r.failed, f.connects_per_second.value_or(0),
         f.rss_bytes_per_connection
             ? std::to_string(static_cast<long long>(*f.rss_bytes_per_connection)).c_str()
             : "n/a",
         cpu.bench_saturated() ? " (bench saturated: figures are a lower bound)" : "");
    for (const auto& [reason, n] : r.failures) {
        note(o, "  failure: %u x %s", n, reason.c_str());
    }
    return emit_record(w, o) && error.empty() ? 0 : 1;
}

} // namespace

int run_connect(const options& o) {
    if (!o.floor) {
        return connect_ramp(o);
    }
    std::uint16_t port = 0;
    int listen_fd = listen_loopback(port);
    if (listen_fd < 0) {
        note(o, "connect --floor: cannot listen on 127.0.0.1");
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        note(o, "connect --floor: fork failed");
        return 1;
    }
    if (child == 0) {
        _exit(run_handshake_floor(listen_fd));
    }
    close(listen_fd);
    options floor = o;
    floor.server.host = "127.0.0.1";
    floor.server.port = port;
    floor.server.tls = false;
    floor.server_pid = child; // its CPU and memory are the figures, as a server's would be
    int rc = connect_ramp(floor);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return rc;
}

} // namespace ringcast::bench
