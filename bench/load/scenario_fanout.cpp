// `fanout` and `channels`: subscribers first, then a publisher on the HTTP API for a fixed time;
// every delivery is checked against the publisher's sequence numbers and timed by its stamp.
#include "clock.h"
#include "publisher.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sys/eventfd.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

// Per-connection sequence bitmaps are bounded to 64 MiB in total; a closed-loop run that would
// need more stops publishing at the cap (and says so).
constexpr std::uint64_t bitmap_budget_bits = 64ULL * 1024 * 1024 * 8;

std::uint64_t event_cap(const options& o) {
    std::uint64_t by_memory = bitmap_budget_bits / o.connections;
    if (o.max_events > 0) {
        return std::min(o.max_events, by_memory);
    }
    if (o.rate > 0) {
        auto planned = static_cast<std::uint64_t>(std::ceil(o.rate * o.duration_s)) + o.batch;
        return std::min(planned, by_memory);
    }
    return std::min<std::uint64_t>(by_memory, 10'000'000);
}

// Waits until every owed delivery arrived, or nothing new arrived for a second, or drain_s passed.
void drain(const options& o, const run_control& control, std::uint64_t owed) {
    std::uint64_t start = now_ns();
    std::uint64_t last = control.delivered.load();
    std::uint64_t last_change = start;
    while (true) {
        std::uint64_t now = now_ns();
        std::uint64_t got = control.delivered.load();
        if (got >= owed || now - start >= static_cast<std::uint64_t>(o.drain_s * 1e9)) {
            return;
        }
        if (got != last) {
            last = got;
            last_change = now;
        } else if (now - last_change > 1'000'000'000) {
            return;
        }
        usleep(1000);
    }
}

} // namespace

int run_fanout(const options& o) {
    machine_info machine = read_machine_info();
    sockaddr_in address{};
    if (!resolve_ipv4(o.server.host, o.server.port, address)) {
        note(o, "cannot resolve %s", o.server.host.c_str());
        return 1;
    }
    if (o.scenario == "channels" && o.batch > 1) {
        note(o, "--batch is for `fanout` only (a batch event names one channel)");
        return 1;
    }
    layout channels;
    channels.channel = o.channel;
    channels.connections = o.connections;
    channels.per_connection = o.scenario == "channels";
    channels.per_event = channels.per_connection ? o.channels_per_event : o.connections;
    const std::uint64_t max_events = event_cap(o);

    run_control control;
    control.wake_fd = eventfd(0, EFD_CLOEXEC);
    receiver_pool pool(o, client_mode::pusher, address, channels, max_events, control);
    note(o, "%s: opening %u subscribers to %s:%u", o.scenario.c_str(), o.connections, o.server.host.c_str(),
         o.server.port);
    pool.start();
    std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>((o.connect_timeout_s * 2 + o.connections / 200.0) * 1e9);
    bool settled = pool.wait_settled(deadline);

    json_writer w;
    begin_record(w, o, machine);
    if (!settled) {
        pool.stop();
        worker_result r = pool.merged();
        w.key("figures").begin_object();
        write_standard_figures(w, {});
        w.end_object();
        write_connections(w, r, connect_rate(r, pool.started_ns()));
        w.key("complete").value(false);
        w.key("error").value("subscribers did not settle in time");
        note(o, "subscribers did not settle in time");
        [[maybe_unused]] bool written = emit_record(w, o);
        return 1;
    }
    std::vector<std::uint64_t> per_group = pool.subscribers_per_group();
    std::uint64_t subscribed = 0;
    for (std::uint64_t n : per_group) {
        subscribed += n;
    }
    note(o, "%s: %llu of %u subscribed; publishing %s for %.1f s", o.scenario.c_str(),
         static_cast<unsigned long long>(subscribed), o.connections,
         o.rate > 0 ? (std::to_string(static_cast<long long>(o.rate)) + " events/s").c_str()
                    : ("closed loop, window " + std::to_string(o.window)).c_str(),
         o.duration_s);
    // Let the last subscriptions' work finish on the server before the measured window opens.
    usleep(200'000);

    publish_plan plan;
    plan.rate = o.rate;
    plan.window = o.window;
    plan.batch = o.batch;
    plan.connections = o.publishers;
    plan.payload_bytes = o.payload_bytes;
    plan.max_events = max_events;
    plan.duration_ns = static_cast<std::uint64_t>(o.duration_s * 1e9);
    plan.channels = channels;
    plan.subscribers_per_group = per_group;

    cpu_window cpu;
    cpu.begin(pool, o.server_pid);
    publish_result p = run_publisher(o.server, plan, control);
    drain(o, control, p.expected_deliveries);
    cpu.end(pool, o.server_pid);
    pool.stop();
    close(control.wake_fd);

    worker_result r = pool.merged();
    p.ok.resize(std::min<std::uint64_t>(p.ok.size(), p.events_sent));
    std::uint64_t lost = pool.count_lost(p.ok);

    standard_figures f;
    double window_s =
        r.last_delivery_ns > p.start_ns ? static_cast<double>(r.last_delivery_ns - p.start_ns) / 1e9 : 0;
    if (r.deliveries > 0 && window_s > 0) {
        f.deliveries_per_second = static_cast<double>(r.deliveries) / window_s;
    }
    if (auto server = cpu.server_cpu_ns(); server && r.deliveries > 0) {
        f.server_cpu_us_per_delivery =
            static_cast<double>(*server) / 1000.0 / static_cast<double>(r.deliveries);
    }
    f.connects_per_second = connect_rate(r, pool.started_ns());
    if (r.delivery_latency.count() > 0) {
        f.latency = summarize_us(r.delivery_latency);
    }
    f.lost = lost;
    f.duplicated = r.duplicates;
    if (o.ceiling_dps > 0) {
        f.ceiling_deliveries_per_second = o.ceiling_dps;
        if (f.deliveries_per_second) {
            f.percent_of_ceiling = 100.0 * *f.deliveries_per_second / o.ceiling_dps;
        }
    }
    double sending_s =
        p.last_send_ns > p.start_ns ? static_cast<double>(p.last_send_ns - p.start_ns) / 1e9 : 0;

    w.key("figures").begin_object();
    write_standard_figures(w, f);
    // Server CPU per delivery as a multiple of the raw sender's (one frame per send) at this size:
    // the cost of the protocol and the server's own machinery over the bare kernel send.
    w.key("ceiling_cpu_us_per_delivery")
        .value(o.ceiling_cpu_us > 0 ? std::optional<double>(o.ceiling_cpu_us) : std::nullopt);
    w.key("cpu_vs_ceiling")
        .value(o.ceiling_cpu_us > 0 && f.server_cpu_us_per_delivery
                   ? std::optional<double>(*f.server_cpu_us_per_delivery / o.ceiling_cpu_us)
                   : std::nullopt);
    w.key("subscribers").value(subscribed);
    w.key("events_sent").value(p.events_sent);
    w.key("events_acknowledged").value(p.events_ok);
    w.key("events_per_second").value(sending_s > 0 ? static_cast<double>(p.events_sent) / sending_s : 0.0);
    w.key("expected_deliveries").value(p.expected_deliveries);
    w.key("deliveries").value(r.deliveries);
    w.key("unexpected").value(r.unexpected);
    w.key("disconnected")
        .value(std::accumulate(r.disconnects.begin(), r.disconnects.end(), std::uint64_t{0},
                               [](std::uint64_t n, const auto& entry) { return n + entry.second; }));
    w.key("late_events").value(p.late_events);
    w.key("stalls").value(p.stalls);
    w.key("max_events_reached").value(p.events_sent >= max_events);
    w.key("publish_request_latency_us");
    write_latency(w, summarize_us(p.request_latency));
    w.key("fanout_pass_us")
        .value(
            f.deliveries_per_second && subscribed > 0
                ? std::optional<double>(
                      1e6 * static_cast<double>(channels.per_connection ? o.channels_per_event : subscribed) /
                      *f.deliveries_per_second)
                : std::nullopt);
    w.end_object();
    w.key("latency_spectrum_us");
    write_spectrum(w, r.delivery_latency);
    w.key("http_statuses").begin_object();
    for (const auto& [status, n] : p.statuses) {
        w.key(std::to_string(status)).value(n);
    }
    w.end_object();
    w.key("first_publish_error").value(p.first_error);
    w.key("pusher_errors").value(r.pusher_errors);
    w.key("first_pusher_error").value(r.first_pusher_error);
    w.key("receiver").begin_object();
    w.key("recv_completions").value(r.recv_completions);
    w.key("enobufs").value(r.nobufs);
    w.key("other_messages").value(r.other_messages);
    w.end_object();
    write_connections(w, r, f.connects_per_second);
    cpu.write(w);
    std::uint64_t disconnected = 0;
    for (const auto& [reason, count] : r.disconnects) {
        disconnected += count;
    }
    // The run finished either way; a record that is not "complete" says why its figures are suspect.
    std::string error = !p.setup_error.empty() ? p.setup_error : r.setup_error;
    if (error.empty() && disconnected > 0) {
        error = std::to_string(disconnected) + " subscribers were disconnected during the run";
    }
    if (error.empty() && p.events_ok < p.events_sent) {
        error =
            std::to_string(p.events_sent - p.events_ok) + " events were not acknowledged: " + p.first_error;
    }
    if (error.empty() && (lost > 0 || r.duplicates > 0 || r.unexpected > 0)) {
        error = "deliveries were lost, duplicated or misrouted";
    }
    bool complete = error.empty();
    w.key("complete").value(complete);
    w.key("error").value(error);

    note(o,
         "%s: %llu events sent (%llu acknowledged), %llu deliveries, %.0f deliveries/s, lost %llu, "
         "duplicated %llu",
         o.scenario.c_str(), static_cast<unsigned long long>(p.events_sent),
         static_cast<unsigned long long>(p.events_ok), static_cast<unsigned long long>(r.deliveries),
         f.deliveries_per_second.value_or(0), static_cast<unsigned long long>(lost),
         static_cast<unsigned long long>(r.duplicates));
    if (f.latency) {
        note(o, "  latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f", f.latency->p50,
             f.latency->p90, f.latency->p99, f.latency->p999, f.latency->max);
    }
    if (f.server_cpu_us_per_delivery) {
        note(o, "  server CPU: %.3f us per delivery", *f.server_cpu_us_per_delivery);
    }
    if (!p.first_error.empty()) {
        note(o, "  first publish error: %s", p.first_error.c_str());
    }
    if (cpu.bench_saturated()) {
        note(o, "  WARNING: a receiver thread was %.0f%% busy: the bench may be the bottleneck",
             cpu.busiest_receiver_percent());
    }
    if (!complete) {
        note(o, "  problem: %s", error.c_str());
    }
    return emit_record(w, o) && complete ? 0 : 1;
}

} // namespace ringcast::bench
