// `ceiling`: the machine's own limit for fan-out. A forked sender writes pre-framed frames to N
// loopback sockets; the same receiver threads as in `fanout` count them. Two phases on the same
// connections: one frame per send, then --coalesce frames per send. With --rate R, one phase
// only: a pass of one frame to every socket R times a second, the floor for a fan-out of events
// arriving at that rate (the shards and the receivers sleep between events, as they do then).
#include "ceiling_sender.h"
#include "clock.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

struct phase_figures {
    std::uint32_t frames_per_send = 0;
    double deliveries_per_second = 0;
    double sender_cpu_us_per_delivery = 0;
    double sender_cpu_percent = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t sends = 0;
    std::uint64_t send_errors = 0;
    double busiest_receiver_percent = 0;
    double machine_busy_percent = 0;
    double other_processes_cpu_percent = 0;
    bool bench_saturated = false;
};

void write_phase(json_writer& w, const phase_figures& p) {
    w.begin_object();
    w.key("frames_per_send").value(p.frames_per_send);
    w.key("deliveries_per_second").value(p.deliveries_per_second);
    w.key("sender_cpu_us_per_delivery").value(p.sender_cpu_us_per_delivery);
    w.key("sender_cpu_percent").value(p.sender_cpu_percent);
    w.key("deliveries").value(p.deliveries);
    w.key("sends").value(p.sends);
    w.key("send_errors").value(p.send_errors);
    w.key("busiest_receiver_thread_percent").value(p.busiest_receiver_percent);
    w.key("machine_busy_percent").value(p.machine_busy_percent);
    w.key("other_processes_cpu_percent").value(p.other_processes_cpu_percent);
    w.key("machine_shared").value(p.other_processes_cpu_percent >= shared_percent);
    w.key("bench_saturated").value(p.bench_saturated);
    w.end_object();
}

} // namespace

int run_ceiling(const options& o) {
    machine_info machine = read_machine_info();
    std::uint16_t port = 0;
    int listen_fd = listen_loopback(port);
    int commands[2];
    int reports[2];
    if (listen_fd < 0 || pipe2(commands, O_CLOEXEC) != 0 || pipe2(reports, O_CLOEXEC) != 0) {
        note(o, "ceiling: cannot create the loopback listener or pipes");
        return 1;
    }
    // Fork before any thread or ring exists in this process: the child starts clean.
    pid_t child = fork();
    if (child < 0) {
        note(o, "ceiling: fork failed");
        return 1;
    }
    if (child == 0) {
        close(commands[1]);
        close(reports[0]);
        // If the bench dies, the sender must not outlive it.
        signal(SIGPIPE, SIG_IGN);
        _exit(run_ceiling_sender(listen_fd, o.connections, o.sender_threads,
                                 static_cast<std::uint64_t>(o.connect_timeout_s * 1e9), commands[0],
                                 reports[1]));
    }
    close(listen_fd);
    close(commands[0]);
    close(reports[1]);

    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    layout channels;
    channels.connections = o.connections;
    run_control control;
    receiver_pool pool(o, client_mode::raw, address, channels, 0, control);
    note(o, "ceiling: %u loopback connections, %u sender thread(s), %u receiver thread(s)", o.connections,
         o.sender_threads, o.threads);
    pool.start();
    std::uint64_t deadline =
        now_ns() + static_cast<std::uint64_t>((o.connect_timeout_s * 2 + o.connections / 200.0) * 1e9);
    bool settled = pool.wait_settled(deadline);
    ceiling_report hello;
    bool child_ok = read_exact(reports[0], &hello, sizeof hello);

    std::vector<phase_figures> phases;
    std::string error;
    if (!settled || !child_ok || hello.accepted == 0) {
        error = "connections were not established";
    }
    // Paced (--rate): only one frame per send, one pass over every socket per "event".
    bool paced = o.rate > 0;
    for (std::uint32_t frames : {1U, o.coalesce}) {
        if (!error.empty() || (!phases.empty() && (paced || frames == 1))) {
            break;
        }
        cpu_window cpu;
        std::uint64_t before = control.delivered.load();
        std::uint64_t sent_before = 0;
        cpu.begin(pool, child);
        ceiling_command command{frames, static_cast<std::uint64_t>(o.duration_s * 1e9), paced ? o.rate : 0};
        ceiling_report report;
        if (!write_exact(commands[1], &command, sizeof command) ||
            !read_exact(reports[0], &report, sizeof report)) {
            error = "the sender process died";
            break;
        }
        // The sender reports after its last send completed; wait (briefly) until the receivers
        // have read everything it sent, so deliveries match the sender's bytes.
        std::uint64_t frames_sent = report.bytes / ceiling_frame_bytes + sent_before;
        std::uint64_t catch_up = now_ns() + 2'000'000'000;
        while (control.delivered.load() - before < frames_sent && now_ns() < catch_up) {
            usleep(1000);
        }
        cpu.end(pool, child);
        phase_figures p;
        p.frames_per_send = frames;
        p.deliveries = control.delivered.load() - before;
        p.sends = report.sends;
        p.send_errors = report.errors;
        double wall_s = static_cast<double>(report.wall_ns) / 1e9;
        p.deliveries_per_second = wall_s > 0 ? static_cast<double>(p.deliveries) / wall_s : 0;
        p.sender_cpu_us_per_delivery =
            p.deliveries > 0 ? static_cast<double>(report.cpu_ns) / 1000.0 / static_cast<double>(p.deliveries)
                             : 0;
        p.sender_cpu_percent = wall_s > 0 ? static_cast<double>(report.cpu_ns) / 1e7 / wall_s : 0;
        p.busiest_receiver_percent = cpu.busiest_receiver_percent();
        p.machine_busy_percent = cpu.machine_percent();
        p.bench_saturated = cpu.bench_saturated();
        p.other_processes_cpu_percent = cpu.others_percent();
        note(o, "ceiling: %u frame(s)/send: %.0f deliveries/s, %.3f us sender CPU per delivery%s%s", frames,
             p.deliveries_per_second, p.sender_cpu_us_per_delivery,
             p.bench_saturated ? " (a receiver thread was saturated)" : "",
             p.other_processes_cpu_percent >= shared_percent ? " (other processes were busy: noisy)" : "");
        phases.push_back(p);
    }
    // Receivers close first: the sender's resets would otherwise show up as disconnects.
    pool.stop();
    ceiling_command quit{0, 0};
    [[maybe_unused]] bool told = write_exact(commands[1], &quit, sizeof quit);
    close(commands[1]);
    close(reports[0]);
    int status = 0;
    waitpid(child, &status, 0);
    worker_result r = pool.merged();

    standard_figures f;
    if (!phases.empty()) {
        f.deliveries_per_second = phases[0].deliveries_per_second;
        f.server_cpu_us_per_delivery = phases[0].sender_cpu_us_per_delivery;
        f.ceiling_deliveries_per_second = phases[0].deliveries_per_second;
        f.percent_of_ceiling = 100.0;
    }
    f.lost = std::uint64_t{0}; // nothing can be lost on TCP without a protocol in the way
    f.duplicated = std::uint64_t{0};
    json_writer w;
    begin_record(w, o, machine);
    w.key("figures").begin_object();
    write_standard_figures(w, f);
    w.key("ceiling_coalesced_deliveries_per_second")
        .value(phases.size() > 1 ? std::optional<double>(phases[1].deliveries_per_second) : std::nullopt);
    w.key("coalesced_sender_cpu_us_per_delivery")
        .value(phases.size() > 1 ? std::optional<double>(phases[1].sender_cpu_us_per_delivery)
                                 : std::nullopt);
    w.key("fanout_pass_us")
        .value(!paced && !phases.empty() && phases[0].deliveries_per_second > 0
                   ? std::optional<double>(1e6 * hello.accepted / phases[0].deliveries_per_second)
                   : std::nullopt);
    w.key("bench_saturated").value(std::any_of(phases.begin(), phases.end(), [](const phase_figures& p) {
        return p.bench_saturated;
    }));
    w.key("machine_shared").value(std::any_of(phases.begin(), phases.end(), [](const phase_figures& p) {
        return p.other_processes_cpu_percent >= shared_percent;
    }));
    w.end_object();
    w.key("phases").begin_array();
    for (const phase_figures& p : phases) {
        write_phase(w, p);
    }
    w.end_array();
    write_connections(w, r, connect_rate(r, pool.started_ns()));
    w.key("accepted_by_sender").value(hello.accepted);
    w.key("complete").value(error.empty() && phases.size() == (o.coalesce > 1 && !paced ? 2U : 1U));
    w.key("error").value(error);
    if (!error.empty()) {
        note(o, "ceiling: %s", error.c_str());
    }
    return emit_record(w, o) && error.empty() ? 0 : 1;
}

} // namespace ringcast::bench
