// Command-line parsing for ringcast-bench. Values are checked here, once, so the scenarios can
// trust them.
#include "options.h"

#include "tls_session.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unistd.h>

namespace ringcast::bench {

namespace {

constexpr const char* usage_text = R"(usage: ringcast-bench SCENARIO [options]
       ringcast-bench report --out DIR RECORD.json...

Scenarios (each bounded in connections and time):
  connect   open N connections: TCP connect, WebSocket upgrade, pusher:connection_established,
            subscribe to one public channel, wait for subscription_succeeded
  fanout    N subscribers on one public channel; a publisher POSTs signed HTTP API events
  channels  N subscribers, each on its own private channel (signed auth; --public for public
            channels); each event goes to --channels-per-event of them
  presence  N connections in groups of --group-size on presence-bench-K: --observers per group stay
            subscribed and count member_added/member_removed, the others join and leave
            (pusher:subscribe / pusher:unsubscribe) at --rate joins + leaves per second in total
  whisper   N connections in groups of --group-size on private-whisper-K; each sends client-bench
            events at --rate per second (at most --client-event-limit) to the others of its group
  soak      a bounded endurance run: --connections stable clients on public channels (groups of
            --group-size share soak-K) and on presence-soak; --churn-rate other connections a
            second connect, join presence-soak and soak-0, stay --churn-stay s and go; a publisher
            sends --rate numbered events/s (one HTTP connection, in order) for --duration s. Checks
            the stable clients got every event once and in order, and that the server's RSS and
            open files (--server-pid) come back after the churn. Defaults: 50 clients, groups of 10,
            20 churn connects/s, 50 events/s, 60 s
  ceiling   no server, no protocol: a raw io_uring sender writes pre-framed 66-byte WebSocket
            frames to N loopback sockets, one frame per send and --coalesce frames per send;
            with --rate R, one pass over every socket R times a second (the floor at that rate)

Target (any Pusher-compatible server):
  --host H (127.0.0.1)  --port P (8080)  --path PREFIX ("")
  --publish-port P      send the HTTP API publishes to this port instead (another node of a
                        cluster: every delivery then crosses Redis)
  --spread-port P       open every other client thread's connections to this port (a second node:
                        the subscribers spread over two nodes; use --threads 2 or more)
  --app-id ID (bench)   --key KEY (bench-key)   --secret SECRET (bench-secret)
  --tls                 wss:// and https:// (TLS 1.2+; the certificate must name --host and chain
                        to the system's roots, or to --ca FILE)
  --ca FILE             CA certificate(s) to verify the server against (implies --tls)
  --tls-insecure        accept any certificate, e.g. a self-signed test one (implies --tls)

Size and bounds:
  --connections N (1000)      --threads T (one per core)   --concurrency C (256 handshakes)
  --connect-rate R (0: no limit, per second)  --connect-timeout S (15)
  --duration S (10)           --rate R (events/s; 0 = closed loop)  --window W (1)
  --publishers K (4)          --batch B (1; >1 uses batch_events)   --payload-bytes B (0)
  --channel NAME (bench)      --channels-per-event K (100)          --max-events N (auto)
  --drain S (5)               --coalesce F (16)                     --sender-threads T (cores)
  --public (channels: public channels, no auth)
  --floor (connect: against a forked minimal server, the machine's floor: raw accept, the
           WebSocket handshake, canned connection_established and subscription_succeeded, close)
  --group-size G (presence 10, whisper 2; presence at most the server's member limit, 100 by default)
  --observers K (2: presence members per channel that stay)
  --churn-rate R (soak: 20 connects/s)  --churn-stay S (soak: 0.5)
  --presence-limit N (soak: 100, the server's presence members per channel; stable clients plus
                      the churn connections open at once must fit)
  --client-event-limit L (10: the server's client events per second per connection; whisper
                          refuses a --rate above it)
  presence: --rate is joins + leaves per second over all churners (default 100); whisper: client
  events per second per connection (default 5)

Reporting:
  --server-pid PID   read the server's RSS (/proc/PID/status) and CPU time (/proc/PID/stat)
  --ceiling DPS      the one-frame-per-send ceiling at this N (from a ceiling run), for percent_of_ceiling
  --ceiling-cpu US   the ceiling sender's CPU us per delivery at this N, for cpu_vs_ceiling
  --label TEXT       name of the target in the record (e.g. "soketi 1.6")
  --json FILE        write the JSON record there (default: stdout)
  --quiet            no progress lines on stderr
)";

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "ringcast-bench: %s\n(see ringcast-bench --help)\n", message.c_str());
    std::exit(2);
}

template <class Number> Number parse_number(std::string_view flag, std::string_view text) {
    Number value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        fail(std::string(flag) + ": not a number: '" + std::string(text) + "'");
    }
    return value;
}

unsigned online_cores() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

// presence and whisper: the group shape and a bounded action rate.
void check_peer_options(options& o) {
    const bool presence = o.scenario == "presence";
    if (o.group_size == 0) {
        o.group_size = presence ? 10 : 2;
    }
    if (o.rate == 0) {
        o.rate = presence ? 100 : 5;
    }
    if (o.group_size < 2 || o.group_size > 1000 || o.group_size > o.connections) {
        fail("--group-size must be 2..1000 and at most --connections");
    }
    if (presence && (o.observers == 0 || o.observers >= o.group_size)) {
        fail("--observers must be at least 1 and less than --group-size (the others churn)");
    }
    if (presence && o.rate > 20000) {
        fail("--rate (presence: joins + leaves per second in total) must be at most 20000");
    }
    if (!presence && (o.client_event_limit == 0 || o.rate > o.client_event_limit)) {
        fail("--rate (whisper: client events per second per connection) must be at most "
             "--client-event-limit (" +
             std::to_string(o.client_event_limit) +
             "): the server refuses events past its per-connection limit (Pusher's is 10/s)");
    }
}

// soak: small, bounded defaults (a flag given on the command line overrides them), and limits.
void soak_defaults(options& o) {
    o.connections = 50;
    o.rate = 50;
    o.duration_s = 60;
    o.group_size = 10;
    o.drain_s = 5;
}

void check_soak_options(options& o) {
    if (o.rate <= 0 || o.rate > 1000) {
        fail("--rate (soak: events per second) must be in (0, 1000]");
    }
    if (o.churn_rate < 0 || o.churn_rate > 500 || o.churn_stay_s < 0 || o.churn_stay_s > 60) {
        fail("--churn-rate must be 0..500 per second, --churn-stay 0..60 s");
    }
    if (o.group_size == 0 || o.group_size > o.connections) {
        fail("--group-size (soak: stable clients per public channel) must be 1..--connections");
    }
    if (o.connections + churn_slots(o) > o.presence_limit) {
        fail("soak: " + std::to_string(o.connections) + " stable clients + " +
             std::to_string(churn_slots(o)) + " churn connections at once would pass --presence-limit (" +
             std::to_string(o.presence_limit) +
             ", the server's presence members per channel); lower --connections, --churn-rate or "
             "--churn-stay");
    }
    // Events go out strictly one after another, so every subscriber must see them in order.
    o.publishers = 1;
    o.batch = 1;
    if (o.channel.empty()) {
        o.channel = "soak";
    }
}

} // namespace

std::uint32_t churn_slots(const options& o) noexcept {
    if (o.churn_rate <= 0) {
        return 0;
    }
    return static_cast<std::uint32_t>(std::ceil(o.churn_rate * (o.churn_stay_s + 1))) + 2;
}

options parse_options(int argc, char** argv) {
    options o;
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fputs(usage_text, argc < 2 ? stderr : stdout);
        std::exit(argc < 2 ? 2 : 0);
    }
    o.scenario = argv[1];
    if (o.scenario != "connect" && o.scenario != "fanout" && o.scenario != "channels" &&
        o.scenario != "presence" && o.scenario != "whisper" && o.scenario != "ceiling" &&
        o.scenario != "soak" && o.scenario != "report") {
        fail("unknown scenario '" + o.scenario + "'");
    }
    if (o.scenario == "soak") {
        soak_defaults(o);
    }
    for (int i = 2; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (flag == "--quiet") {
            o.quiet = true;
            continue;
        }
        if (flag == "--public") {
            o.public_channels = true;
            continue;
        }
        if (flag == "--floor") {
            o.floor = true;
            continue;
        }
        if (flag == "--tls" || flag == "--tls-insecure") {
            o.server.tls = true;
            o.server.tls_insecure = o.server.tls_insecure || flag == "--tls-insecure";
            continue;
        }
        if (flag == "--help") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        }
        if (!flag.starts_with("--")) {
            if (o.scenario == "report") {
                o.inputs.emplace_back(flag);
                continue;
            }
            fail("unexpected argument '" + std::string(flag) + "'");
        }
        if (i + 1 >= argc) {
            fail(std::string(flag) + " needs a value");
        }
        std::string_view v = argv[++i];
        if (flag == "--host") {
            o.server.host = v;
        } else if (flag == "--port") {
            o.server.port = parse_number<std::uint16_t>(flag, v);
        } else if (flag == "--publish-port") {
            o.server.publish_port = parse_number<std::uint16_t>(flag, v);
        } else if (flag == "--spread-port") {
            o.server.spread_port = parse_number<std::uint16_t>(flag, v);
        } else if (flag == "--path") {
            o.server.path = v;
            while (!o.server.path.empty() && o.server.path.back() == '/') {
                o.server.path.pop_back();
            }
            if (!o.server.path.empty() && o.server.path.front() != '/') {
                o.server.path.insert(0, "/");
            }
        } else if (flag == "--ca") {
            o.server.ca_file = v;
            o.server.tls = true;
        } else if (flag == "--app-id") {
            o.server.app_id = v;
        } else if (flag == "--key") {
            o.server.app_key = v;
        } else if (flag == "--secret") {
            o.server.app_secret = v;
        } else if (flag == "--connections") {
            o.connections = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--threads") {
            o.threads = parse_number<unsigned>(flag, v);
        } else if (flag == "--concurrency") {
            o.concurrency = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--connect-rate") {
            o.connect_rate = parse_number<double>(flag, v);
        } else if (flag == "--connect-timeout") {
            o.connect_timeout_s = parse_number<double>(flag, v);
        } else if (flag == "--duration") {
            o.duration_s = parse_number<double>(flag, v);
        } else if (flag == "--rate") {
            o.rate = parse_number<double>(flag, v);
        } else if (flag == "--window") {
            o.window = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--publishers") {
            o.publishers = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--batch") {
            o.batch = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--payload-bytes") {
            o.payload_bytes = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--channel") {
            o.channel = v;
        } else if (flag == "--channels-per-event") {
            o.channels_per_event = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--max-events") {
            o.max_events = parse_number<std::uint64_t>(flag, v);
        } else if (flag == "--group-size") {
            o.group_size = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--observers") {
            o.observers = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--client-event-limit") {
            o.client_event_limit = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--churn-rate") {
            o.churn_rate = parse_number<double>(flag, v);
        } else if (flag == "--churn-stay") {
            o.churn_stay_s = parse_number<double>(flag, v);
        } else if (flag == "--presence-limit") {
            o.presence_limit = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--drain") {
            o.drain_s = parse_number<double>(flag, v);
        } else if (flag == "--coalesce") {
            o.coalesce = parse_number<std::uint32_t>(flag, v);
        } else if (flag == "--sender-threads") {
            o.sender_threads = parse_number<unsigned>(flag, v);
        } else if (flag == "--server-pid") {
            o.server_pid = parse_number<int>(flag, v);
        } else if (flag == "--ceiling") {
            o.ceiling_dps = parse_number<double>(flag, v);
        } else if (flag == "--ceiling-cpu") {
            o.ceiling_cpu_us = parse_number<double>(flag, v);
        } else if (flag == "--label") {
            o.label = v;
        } else if (flag == "--json") {
            o.json_path = v;
        } else if (flag == "--out") {
            o.out_dir = v;
        } else {
            fail("unknown option " + std::string(flag));
        }
    }

    if (o.scenario == "report") {
        if (o.out_dir.empty() || o.inputs.empty()) {
            fail("report needs --out DIR and at least one record");
        }
        return o;
    }
    if (o.threads == 0) {
        o.threads = online_cores();
    }
    if (o.sender_threads == 0) {
        o.sender_threads = online_cores();
    }
    // The open-file limit here is 20000 per process; the ceiling's receivers and its forked sender
    // are separate processes, so each side holds N sockets. Leave room for rings, pipes and stdio.
    if (o.connections == 0 || o.connections > 19000) {
        fail("--connections must be 1..19000 (one process holds at most ~19k sockets under a 20000 "
             "open-file limit; run several bench processes for more)");
    }
    if (o.threads > 64 || o.sender_threads > 64) {
        fail("--threads and --sender-threads must be at most 64");
    }
    if (o.duration_s <= 0 || o.duration_s > 600) {
        fail("--duration must be in (0, 600] seconds");
    }
    if (o.connect_timeout_s <= 0 || o.connect_timeout_s > 600 || o.drain_s < 0 || o.drain_s > 120) {
        fail("--connect-timeout must be in (0, 600], --drain in [0, 120]");
    }
    if (o.rate < 0 || o.window == 0 || o.publishers == 0 || o.publishers > 64) {
        fail("--rate must be >= 0, --window >= 1, --publishers 1..64");
    }
    if (o.batch == 0 || o.batch > 10) {
        fail("--batch must be 1..10 (the Pusher HTTP API allows 10 events per batch)");
    }
    if (o.channels_per_event == 0 || o.channels_per_event > 100) {
        fail("--channels-per-event must be 1..100 (the Pusher HTTP API allows 100 channels per event)");
    }
    if (o.concurrency == 0) {
        fail("--concurrency must be at least 1");
    }
    if (o.coalesce == 0 || o.coalesce > 1024) {
        fail("--coalesce must be 1..1024");
    }
    if (o.payload_bytes > 10000) {
        fail("--payload-bytes must be at most 10000 (the HTTP API refuses data over 10 KB)");
    }
    if (o.scenario == "soak") {
        check_soak_options(o);
    }
    if (o.channel.empty()) {
        o.channel = o.scenario == "whisper" ? "whisper" : "bench";
    }
    if (o.scenario == "presence" || o.scenario == "whisper") {
        check_peer_options(o);
    }
    if (o.server.tls && o.scenario != "ceiling") {
        std::string error;
        o.server.tls_ctx = tls_context::create(o.server.tls_insecure, o.server.ca_file, error);
        if (!o.server.tls_ctx) {
            fail("--tls: " + error);
        }
    }
    return o;
}

} // namespace ringcast::bench
