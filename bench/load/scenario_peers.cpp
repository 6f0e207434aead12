// `presence` and `whisper`: connections in groups, one channel per group, acting on each other
// through the server instead of receiving from a publisher. presence: observers stay subscribed
// while churners join and leave; whisper: every member sends client events the others receive.
// Each action is checked at the end against what every peer saw.
#include "clock.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <cmath>
#include <unistd.h>

namespace ringcast::bench {

namespace {

// The whisper receivers' bitmaps are bounded like fanout's: 64 MiB in total.
constexpr std::uint64_t bitmap_budget_bits = 64ULL * 1024 * 1024 * 8;

std::uint64_t churners(const options& o) {
    std::uint64_t n = 0;
    for (std::uint32_t first = 0; first < o.connections; first += o.group_size) {
        std::uint32_t size = std::min(o.group_size, o.connections - first);
        n += size > o.observers ? size - o.observers : 0;
    }
    return n;
}

} // namespace

int run_peers(const options& o) {
    machine_info machine = read_machine_info();
    sockaddr_in address{};
    if (!resolve_target(o, address)) {
        return 1;
    }
    const bool presence = o.scenario == "presence";
    layout channels;
    channels.channel = (presence ? "presence-" : "private-") + o.channel;
    channels.connections = o.connections;
    channels.per_connection = true;
    channels.shared_by_group = true;
    channels.per_event = o.group_size;

    peer_plan plan;
    plan.mode = presence ? peer_mode::presence : peer_mode::whisper;
    plan.observers = presence ? o.observers : 0;
    const std::uint64_t churner_count = presence ? churners(o) : 0;
    // presence: --rate is joins + leaves per second over all churners; whisper: per connection.
    plan.action_rate =
        presence ? (churner_count > 0 ? o.rate / static_cast<double>(churner_count) : 0) : o.rate;
    // whisper: bit k x group + slot marks sender slot's k-th event; a little room past the schedule.
    std::uint64_t max_events = 0;
    if (!presence) {
        auto per_sender = static_cast<std::uint64_t>(std::ceil(o.rate * o.duration_s)) + 2;
        max_events = std::min(per_sender * o.group_size, bitmap_budget_bits / o.connections);
    }

    run_control control;
    receiver_pool pool(o, client_mode::pusher, address, channels, max_events, control, plan);
    json_writer w;
    begin_record(w, o, machine);
    if (!open_connections(o, pool, w)) {
        return 1;
    }
    control.peers_per_group = pool.peers_per_group();
    std::uint64_t peers = 0;
    for (std::uint64_t n : control.peers_per_group) {
        peers += n;
    }
    note(o, "%s: %llu %s; %s %.0f/s for %.1f s", o.scenario.c_str(), static_cast<unsigned long long>(peers),
         presence ? "observers subscribed" : "members subscribed",
         presence ? "joins + leaves" : "client events per connection", o.rate, o.duration_s);
    // Let the last subscriptions' work finish on the server before the measured window opens.
    usleep(200'000);

    cpu_window cpu;
    cpu.begin(pool, o.server_pid);
    const std::uint64_t start_ns = now_ns();
    control.go.store(true, std::memory_order_release);
    usleep(static_cast<useconds_t>(o.duration_s * 1e6));
    control.wind_down.store(true, std::memory_order_release);
    drain(o, control, 0, pool.threads());
    cpu.end(pool, o.server_pid);
    const bool quiet = control.quiet_workers.load() >= pool.threads();
    pool.stop();

    worker_result r = pool.merged();
    std::uint64_t lost = 0;
    std::uint64_t extra = 0;
    pool.count_peer_deliveries(lost, extra);
    standard_figures f = delivery_figures(o, r, cpu, start_ns, pool.started_ns());
    f.lost = lost;
    f.duplicated = r.duplicates + extra;
    const double acting_s = o.duration_s;

    w.key("figures").begin_object();
    write_standard_figures(w, f);
    w.key("groups").value(channels.groups());
    w.key("group_size").value(o.group_size);
    w.key("established").value(r.established);
    if (presence) {
        w.key("member_events_per_second").value(f.deliveries_per_second);
        w.key("observers").value(peers);
        w.key("churners").value(churner_count);
        w.key("joins_and_leaves").value(r.actions);
        w.key("joins_and_leaves_per_second").value(static_cast<double>(r.actions) / acting_s);
        w.key("member_added_seen").value(r.member_added);
        w.key("member_removed_seen").value(r.member_removed);
        w.key("joins_refused").value(r.joins_refused);
        w.key("presence_payloads_checked").value(r.presence_checked);
        w.key("presence_payloads_not_sane").value(r.presence_not_sane);
        w.key("first_presence_problem").value(r.first_presence_problem);
    } else {
        w.key("client_events_sent").value(r.actions);
        w.key("client_events_per_second").value(static_cast<double>(r.actions) / acting_s);
        w.key("echoed_to_sender").value(r.echoed);
    }
    w.key("expected_deliveries").value(control.owed.load());
    w.key("deliveries").value(r.deliveries);
    w.key("unexpected").value(r.unexpected);
    w.key("skipped_actions").value(r.skipped_actions);
    w.key("disconnected").value(disconnected(r));
    w.end_object();
    write_receiver_sections(w, r, f, cpu);

    std::string error = r.setup_error;
    if (error.empty() && disconnected(r) > 0) {
        error = std::to_string(disconnected(r)) + " connections were disconnected during the run";
    }
    if (error.empty() && r.echoed > 0) {
        error = std::to_string(r.echoed) + " client events were sent back to their sender";
    }
    if (error.empty() && (lost > 0 || *f.duplicated > 0 || r.unexpected > 0)) {
        error = presence ? "member events were lost, duplicated or misrouted"
                         : "client events were lost, duplicated or misrouted";
        if (r.pusher_errors > 0) {
            error += " (" + std::to_string(r.pusher_errors) +
                     " pusher:error, first: " + r.first_pusher_error + ")";
        }
    }
    if (error.empty() && r.presence_not_sane > 0) {
        error = std::to_string(r.presence_not_sane) + " presence subscription_succeeded payloads were wrong";
    }
    if (error.empty() && r.joins_refused > 0) {
        error = std::to_string(r.joins_refused) + " joins were refused: " + r.first_pusher_error;
    }
    if (error.empty() && r.pusher_errors > 0) {
        error = std::to_string(r.pusher_errors) + " pusher:error messages: " + r.first_pusher_error;
    }
    if (error.empty() && !quiet) {
        error = "churners were still joining when the drain ended";
    }
    const bool complete = error.empty();
    w.key("complete").value(complete);
    w.key("error").value(error);

    note(o, "%s: %llu %s, %llu deliveries (%llu expected), %.0f deliveries/s, lost %llu, duplicated %llu",
         o.scenario.c_str(), static_cast<unsigned long long>(r.actions),
         presence ? "joins + leaves" : "client events", static_cast<unsigned long long>(r.deliveries),
         static_cast<unsigned long long>(control.owed.load()), f.deliveries_per_second.value_or(0),
         static_cast<unsigned long long>(lost), static_cast<unsigned long long>(*f.duplicated));
    note_delivery_summary(o, f, cpu);
    if (!complete) {
        note(o, "  problem: %s", error.c_str());
    }
    return emit_record(w, o) && complete ? 0 : 1;
}

} // namespace ringcast::bench
