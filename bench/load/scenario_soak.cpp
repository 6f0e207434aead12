// `soak`: a bounded endurance run. Stable clients stay subscribed to public channels and one
// presence channel for the whole run while other connections churn through the same presence
// channel (connect, join, stay briefly, vanish) and a publisher sends numbered events in order.
// At the end: did every stable client get every event once and in order, did every churn
// connection get through, and did the server's memory and open files come back once the churn
// stopped.
#include "clock.h"
#include "publisher.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace ringcast::bench {

namespace {

// After the churn, the server's open files must come back to within this many of what they were
// before it started: the publisher's connection and a few late closes, not one per churner.
constexpr std::uint64_t fd_margin = 10;
// RSS is judged loosely (allocators keep freed memory): only gross growth fails the run.
constexpr double rss_growth_factor = 2.0;
constexpr std::uint64_t rss_growth_slack = 50ULL * 1024 * 1024;
// How long the server gets to close the churners' sockets before the end reading is taken.
constexpr std::uint64_t settle_ns = 10'000'000'000;
// The record keeps one sample every this many seconds; the peak is taken from every sample.
constexpr double series_step_s = 5;

struct server_sample {
    std::optional<std::uint64_t> rss;
    std::optional<std::uint64_t> fds;
};

server_sample sample_server(int pid) {
    if (pid <= 0) {
        return {};
    }
    return {process_rss_bytes(pid), process_fd_count(pid)};
}

// Reads the server's RSS and open files twice a second on its own thread while the run goes on.
class server_watch {
public:
    explicit server_watch(int pid) : pid_(pid) {}
    ~server_watch() { stop(); }
    server_watch(const server_watch&) = delete;
    server_watch& operator=(const server_watch&) = delete;

    void start() {
        if (pid_ <= 0) {
            return;
        }
        start_ns_ = now_ns();
        thread_ = std::thread([this] { loop(); });
    }
    void stop() {
        done_.store(true, std::memory_order_release);
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    // Valid after stop(); `add` folds in readings taken elsewhere (start, end).
    void add(const server_sample& s) {
        std::lock_guard lock(mutex_);
        peak_rss_ = std::max(peak_rss_, s.rss.value_or(0));
        peak_fds_ = std::max(peak_fds_, s.fds.value_or(0));
    }
    [[nodiscard]] std::uint64_t peak_rss() const noexcept { return peak_rss_; }
    [[nodiscard]] std::uint64_t peak_fds() const noexcept { return peak_fds_; }

    // "samples": [[seconds since the churn began, rss bytes, fds], ...]
    void write(json_writer& w) const {
        w.key("samples").begin_array();
        for (const auto& [t, rss, fds] : series_) {
            w.begin_array(true).value(t).value(rss).value(fds).end_array();
        }
        w.end_array();
    }

private:
    void loop() {
        double next_series = 0;
        while (!done_.load(std::memory_order_acquire)) {
            server_sample s = sample_server(pid_);
            add(s);
            double t = static_cast<double>(now_ns() - start_ns_) / 1e9;
            if (t >= next_series && s.rss && s.fds) {
                std::lock_guard lock(mutex_);
                series_.emplace_back(std::round(t), *s.rss, *s.fds);
                next_series += series_step_s;
            }
            usleep(500'000);
        }
    }

    int pid_;
    std::uint64_t start_ns_ = 0;
    std::atomic<bool> done_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::uint64_t peak_rss_ = 0;
    std::uint64_t peak_fds_ = 0;
    std::vector<std::tuple<double, std::uint64_t, std::uint64_t>> series_;
};

// Waits (at most settle_ns) for the server's open files to come back near `start`, then reads it.
server_sample settled_sample(int pid, const server_sample& start) {
    std::uint64_t deadline = now_ns() + settle_ns;
    server_sample s = sample_server(pid);
    while (s.fds && start.fds && *s.fds > *start.fds + fd_margin && now_ns() < deadline) {
        usleep(200'000);
        s = sample_server(pid);
    }
    return s;
}

struct soak_result {
    worker_result stable;
    worker_result churn;
    publish_result published;
    std::uint64_t lost = 0;
    std::uint64_t subscribed = 0;
    server_sample before; // no bench connection yet
    server_sample start;  // stable clients subscribed, before the churn and the events
    server_sample end;    // churn over and its connections gone, stable clients still on
    std::uint64_t peak_rss = 0;
    std::uint64_t peak_fds = 0;
};

void write_server_section(json_writer& w, const soak_result& s, const server_watch& watch) {
    w.key("server").begin_object();
    auto series = [&](const char* name, std::optional<std::uint64_t> server_sample::*field,
                      std::uint64_t peak) {
        w.key(name).begin_object(true);
        w.key("before").value(s.before.*field);
        w.key("start").value(s.start.*field);
        w.key("peak").value((s.start.*field) ? std::optional<std::uint64_t>(peak) : std::nullopt);
        w.key("end").value(s.end.*field);
        w.end_object();
    };
    series("rss_bytes", &server_sample::rss, s.peak_rss);
    series("open_fds", &server_sample::fds, s.peak_fds);
    w.key("fd_margin").value(fd_margin);
    watch.write(w);
    w.end_object();
}

// Why the run failed, or empty when it passed.
std::string soak_verdict(const options& o, const soak_result& s) {
    const worker_result& r = s.stable;
    const publish_result& p = s.published;
    if (!p.setup_error.empty() || !r.setup_error.empty() || !s.churn.setup_error.empty()) {
        return !p.setup_error.empty() ? p.setup_error
                                      : (!r.setup_error.empty() ? r.setup_error : s.churn.setup_error);
    }
    if (s.subscribed < o.connections) {
        return std::to_string(o.connections - s.subscribed) + " stable clients did not subscribe";
    }
    if (disconnected(r) > 0) {
        return std::to_string(disconnected(r)) + " stable clients were disconnected during the run";
    }
    if (p.events_ok < p.events_sent) {
        return std::to_string(p.events_sent - p.events_ok) +
               " events were not acknowledged: " + p.first_error;
    }
    if (s.lost > 0 || r.duplicates > 0 || r.out_of_order > 0 || r.unexpected > 0) {
        return "events were lost, duplicated, out of order or misrouted";
    }
    const std::uint64_t members = s.churn.churn_joined * s.subscribed;
    if (r.member_added != members || r.member_removed != members) {
        return "the stable clients saw " + std::to_string(r.member_added) + " member_added and " +
               std::to_string(r.member_removed) + " member_removed for the churners, not " +
               std::to_string(members);
    }
    std::uint64_t churn_failed = s.churn.failed + disconnected(s.churn);
    if (churn_failed > 0) {
        return std::to_string(churn_failed) + " churn connections failed";
    }
    if (o.churn_rate > 0 && s.churn.churn_completed == 0) {
        return "no churn connection completed";
    }
    if (s.start.fds && s.end.fds && *s.end.fds > *s.start.fds + fd_margin) {
        return "the server's open files did not come back after the churn: " + std::to_string(*s.start.fds) +
               " at the start, " + std::to_string(*s.end.fds) + " at the end";
    }
    if (s.start.rss && s.end.rss &&
        static_cast<double>(*s.end.rss) >
            rss_growth_factor * static_cast<double>(*s.start.rss) + rss_growth_slack) {
        return "the server's RSS grew from " + std::to_string(*s.start.rss >> 20) + " MiB to " +
               std::to_string(*s.end.rss >> 20) + " MiB";
    }
    return {};
}

void write_soak_figures(json_writer& w, const options& o, const soak_result& s, const standard_figures& f) {
    const worker_result& r = s.stable;
    const publish_result& p = s.published;
    w.key("figures").begin_object();
    write_standard_figures(w, f);
    w.key("stable_clients").value(s.subscribed);
    w.key("public_channels").value((o.connections + o.group_size - 1) / o.group_size);
    w.key("events_sent").value(p.events_sent);
    w.key("events_acknowledged").value(p.events_ok);
    w.key("expected_deliveries").value(p.expected_deliveries);
    w.key("deliveries").value(r.deliveries);
    w.key("out_of_order").value(r.out_of_order);
    w.key("unexpected").value(r.unexpected);
    w.key("disconnected").value(disconnected(r));
    w.key("late_events").value(p.late_events);
    w.key("publish_request_latency_us");
    write_latency(w, summarize_us(p.request_latency));
    w.key("churn").begin_object();
    w.key("slots").value(churn_slots(o));
    w.key("attempted").value(s.churn.attempted);
    w.key("completed").value(s.churn.churn_completed);
    w.key("failed").value(s.churn.failed + disconnected(s.churn));
    w.key("skipped").value(s.churn.churn_skipped);
    w.key("joined_presence").value(s.churn.churn_joined);
    w.key("events_seen").value(s.churn.churn_events_seen);
    // Each churner's join and departure, as every stable client must see them on the presence channel.
    w.key("member_events_expected").value(s.churn.churn_joined * s.subscribed);
    w.key("member_added_seen").value(s.stable.member_added);
    w.key("member_removed_seen").value(s.stable.member_removed);
    w.key("connect_latency_us");
    if (s.churn.connect_latency.count() > 0) {
        write_latency(w, summarize_us(s.churn.connect_latency));
    } else {
        w.null();
    }
    w.key("failures").begin_object();
    for (const auto& [reason, n] : s.churn.failures) {
        w.key(reason).value(n);
    }
    for (const auto& [reason, n] : s.churn.disconnects) {
        w.key("disconnected: " + reason).value(n);
    }
    w.end_object();
    w.end_object();
    w.end_object();
}

std::string mib(const std::optional<std::uint64_t>& bytes) {
    if (!bytes) {
        return "?";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(*bytes) / (1024.0 * 1024.0));
    return text;
}

std::string number(const std::optional<std::uint64_t>& n) {
    return n ? std::to_string(*n) : "?";
}

void note_soak_summary(const options& o, const soak_result& s, const std::string& error) {
    const worker_result& r = s.stable;
    const publish_result& p = s.published;
    note(o, "soak: %.0f s, %llu stable clients, %llu events sent (%llu acknowledged)", o.duration_s,
         static_cast<unsigned long long>(s.subscribed), static_cast<unsigned long long>(p.events_sent),
         static_cast<unsigned long long>(p.events_ok));
    note(o, "  stable clients: expected %llu, received %llu, lost %llu, duplicated %llu, out of order %llu",
         static_cast<unsigned long long>(p.expected_deliveries),
         static_cast<unsigned long long>(r.deliveries), static_cast<unsigned long long>(s.lost),
         static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.out_of_order));
    note(o, "  churn: %llu connections completed, %llu failed, %llu skipped (slots busy or behind)",
         static_cast<unsigned long long>(s.churn.churn_completed),
         static_cast<unsigned long long>(s.churn.failed + disconnected(s.churn)),
         static_cast<unsigned long long>(s.churn.churn_skipped));
    note(o,
         "  presence: %llu churn joins; stable clients saw %llu member_added, %llu member_removed (%llu each "
         "expected)",
         static_cast<unsigned long long>(s.churn.churn_joined),
         static_cast<unsigned long long>(r.member_added), static_cast<unsigned long long>(r.member_removed),
         static_cast<unsigned long long>(s.churn.churn_joined * s.subscribed));
    if (o.server_pid > 0) {
        std::optional<std::uint64_t> peak_rss = s.start.rss ? std::optional(s.peak_rss) : std::nullopt;
        std::optional<std::uint64_t> peak_fds = s.start.fds ? std::optional(s.peak_fds) : std::nullopt;
        note(o, "  server RSS MiB: start %s, peak %s, end %s (before the bench: %s)",
             mib(s.start.rss).c_str(), mib(peak_rss).c_str(), mib(s.end.rss).c_str(),
             mib(s.before.rss).c_str());
        note(o, "  server open fds: start %s, peak %s, end %s (before the bench: %s)",
             number(s.start.fds).c_str(), number(peak_fds).c_str(), number(s.end.fds).c_str(),
             number(s.before.fds).c_str());
    } else {
        note(o, "  server RSS and open fds: not read (no --server-pid)");
    }
    note(o, "  %s%s", error.empty() ? "PASS" : "FAIL: ", error.c_str());
}

// The churn pool's own options: one thread, its slots as connections, no connect pacing (the
// churn schedule paces them).
options churn_options(const options& o) {
    options c = o;
    c.connections = std::max<std::uint32_t>(1, churn_slots(o));
    c.threads = 1;
    c.connect_rate = 0;
    c.concurrency = c.connections;
    return c;
}

layout stable_layout(const options& o) {
    layout l;
    l.channel = o.channel;
    l.connections = o.connections;
    l.per_connection = true;
    l.shared_by_group = true;
    l.per_event = o.group_size;
    l.also_channel = "presence-" + o.channel;
    return l;
}

layout churn_layout(const options& o) {
    layout l;
    l.channel = "presence-" + o.channel;
    l.connections = std::max<std::uint32_t>(1, churn_slots(o));
    l.also_channel = o.channel + "-0";
    return l;
}

// One publisher connection: each event is sent once the previous one was acknowledged, so every
// subscriber must receive them in order.
publish_plan soak_plan(const options& o, const layout& channels, const std::vector<std::uint64_t>& per_group,
                       std::uint64_t max_events) {
    publish_plan plan;
    plan.rate = o.rate;
    plan.connections = 1;
    plan.payload_bytes = o.payload_bytes;
    plan.max_events = max_events;
    plan.duration_ns = static_cast<std::uint64_t>(o.duration_s * 1e9);
    plan.channels = channels;
    plan.subscribers_per_group = per_group;
    return plan;
}

// Ends the churn: no new connections, the open ones finish their stay, then the pool stops.
void stop_churn(const options& o, run_control& control, receiver_pool& pool) {
    control.wind_down.store(true, std::memory_order_release);
    std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>((o.connect_timeout_s + o.churn_stay_s + 2) * 1e9);
    while (control.quiet_workers.load(std::memory_order_acquire) < pool.threads() && now_ns() < deadline) {
        usleep(10'000);
    }
    pool.stop();
}

} // namespace

int run_soak(const options& o) {
    machine_info machine = read_machine_info();
    sockaddr_in address{};
    if (!resolve_target(o, address)) {
        return 1;
    }
    const layout channels = stable_layout(o);
    const auto max_events = static_cast<std::uint64_t>(std::ceil(o.rate * o.duration_s)) + 2;
    soak_result s;
    s.before = sample_server(o.server_pid);

    run_control control;
    receiver_pool stable(o, client_mode::pusher, address, channels, max_events, control);
    json_writer w;
    begin_record(w, o, machine);
    if (!open_connections(o, stable, w)) {
        return 1;
    }
    std::vector<std::uint64_t> per_group = stable.subscribers_per_group();
    for (std::uint64_t n : per_group) {
        s.subscribed += n;
    }
    note(o,
         "soak: %llu of %u stable clients on %s-* and %s; churn %.0f connects/s (stay %.1f s), %.0f "
         "events/s for %.0f s",
         static_cast<unsigned long long>(s.subscribed), o.connections, o.channel.c_str(),
         channels.also_channel.c_str(), o.churn_rate, o.churn_stay_s, o.rate, o.duration_s);
    usleep(200'000);
    s.start = sample_server(o.server_pid);
    server_watch watch(o.server_pid);
    watch.add(s.start);
    watch.start();

    const options churn_o = churn_options(o);
    run_control churn_control;
    peer_plan churn_plan{peer_mode::churn, 0, o.churn_rate, static_cast<std::uint64_t>(o.churn_stay_s * 1e9)};
    receiver_pool churn(churn_o, client_mode::pusher, address, churn_layout(o), 0, churn_control, churn_plan);
    churn.start();
    churn_control.go.store(true, std::memory_order_release);

    const publish_plan plan = soak_plan(o, channels, per_group, max_events);
    cpu_window cpu;
    cpu.begin(stable, o.server_pid);
    s.published = run_publisher(o.server, plan, control);
    stop_churn(o, churn_control, churn);
    drain(o, control, s.published.expected_deliveries);
    cpu.end(stable, o.server_pid);
    s.end = settled_sample(o.server_pid, s.start);
    watch.add(s.end);
    watch.stop();
    stable.stop();

    s.stable = stable.merged();
    s.churn = churn.merged();
    s.published.ok.resize(std::min<std::uint64_t>(s.published.ok.size(), s.published.events_sent));
    s.lost = stable.count_lost(s.published.ok);
    s.peak_rss = watch.peak_rss();
    s.peak_fds = watch.peak_fds();
    standard_figures f = delivery_figures(o, s.stable, cpu, s.published.start_ns, stable.started_ns());
    f.lost = s.lost;
    f.duplicated = s.stable.duplicates;
    // The server's CPU here goes mostly to the churn, not to deliveries: the load section has it.
    f.server_cpu_us_per_delivery.reset();

    write_soak_figures(w, o, s, f);
    write_server_section(w, s, watch);
    w.key("http_statuses").begin_object();
    for (const auto& [status, n] : s.published.statuses) {
        w.key(std::to_string(status)).value(n);
    }
    w.end_object();
    w.key("first_publish_error").value(s.published.first_error);
    write_receiver_sections(w, s.stable, f, cpu);
    const std::string error = soak_verdict(o, s);
    w.key("complete").value(error.empty());
    w.key("error").value(error);
    note_soak_summary(o, s, error);
    note_delivery_summary(o, f, cpu);
    return emit_record(w, o) && error.empty() ? 0 : 1;
}

} // namespace ringcast::bench
