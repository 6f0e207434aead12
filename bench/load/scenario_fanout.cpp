// `fanout` and `channels`: subscribers first, then a publisher on the HTTP API for a fixed time;
// every delivery is checked against the publisher's sequence numbers and timed by its stamp.
#include "clock.h"
#include "publisher.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <algorithm>
#include <cmath>
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

} // namespace

int run_fanout(const options& o) {
    machine_info machine = read_machine_info();
    sockaddr_in address{};
    if (!resolve_target(o, address)) {
        return 1;
    }
    if (o.scenario == "channels" && o.batch > 1) {
        note(o, "--batch is for `fanout` only (a batch event names one channel)");
        return 1;
    }
    layout channels;
    // `channels` uses private channels (signed subscriptions) unless --public says otherwise.
    channels.channel = o.scenario == "channels" && !o.public_channels ? "private-" + o.channel : o.channel;
    channels.connections = o.connections;
    channels.per_connection = o.scenario == "channels";
    channels.per_event = channels.per_connection ? o.channels_per_event : o.connections;
    const std::uint64_t max_events = event_cap(o);

    run_control control;
    control.wake_fd = eventfd(0, EFD_CLOEXEC);
    receiver_pool pool(o, client_mode::pusher, address, channels, max_events, control);
    json_writer w;
    begin_record(w, o, machine);
    if (!open_connections(o, pool, w)) {
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

    standard_figures f = delivery_figures(o, r, cpu, p.start_ns, pool.started_ns());
    f.lost = lost;
    f.duplicated = r.duplicates;
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
    w.key("disconnected").value(disconnected(r));
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
    w.key("http_statuses").begin_object();
    for (const auto& [status, n] : p.statuses) {
        w.key(std::to_string(status)).value(n);
    }
    w.end_object();
    w.key("first_publish_error").value(p.first_error);
    write_receiver_sections(w, r, f, cpu);
    // The run finished either way; a record that is not "complete" says why its figures are suspect.
    std::string error = !p.setup_error.empty() ? p.setup_error : r.setup_error;
    if (error.empty() && disconnected(r) > 0) {
        error = std::to_string(disconnected(r)) + " subscribers were disconnected during the run";
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
    note_delivery_summary(o, f, cpu);
    if (!p.first_error.empty()) {
        note(o, "  first publish error: %s", p.first_error.c_str());
    }
    if (!complete) {
        note(o, "  problem: %s", error.c_str());
    }
    return emit_record(w, o) && complete ? 0 : 1;
}

} // namespace ringcast::bench
