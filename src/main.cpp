// ringcast: read the configuration, start one shard per core, wait for a signal, stop cleanly.
#include "ringcast/cluster/bridge.h"
#include "ringcast/config/config.h"
#include "ringcast/core/crypto.h"
#include "ringcast/core/log.h"
#include "ringcast/core/status.h"
#include "ringcast/doctor/doctor.h"
#include "ringcast/net/listener.h"
#include "ringcast/net/ring.h"
#include "ringcast/net/tls_server.h"
#include "ringcast/server/connection_handler.h"
#include "ringcast/server/reload.h"
#include "ringcast/server/takeover.h"
#include "ringcast/shard/shard.h"
#include "ringcast/webhook/dispatcher.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ringcast;

void raise_open_files_limit() {
    // Each connection is a descriptor; take everything the hard limit allows.
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

void pin_to_cpu(unsigned index) {
    cpu_set_t online;
    CPU_ZERO(&online);
    if (sched_getaffinity(0, sizeof online, &online) != 0) {
        return;
    }
    int cpus = CPU_COUNT(&online);
    if (cpus <= 0) {
        return;
    }
    // The index-th CPU this process may run on (respects taskset/cgroup restrictions).
    int wanted = static_cast<int>(index % static_cast<unsigned>(cpus));
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &online) && seen++ == wanted) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            return;
        }
    }
}

// The banner goes to stdout, which supervisors write to log files others may read: a secret
// shows only its first characters and length, enough to tell two apps' secrets apart. The
// development default's is public anyway, and what a first try needs to see.
std::string shown_secret(const std::string& secret) {
    if (secret == "app-secret") {
        return secret + " (the public development secret)";
    }
    return secret.substr(0, std::min<std::size_t>(3, secret.size() / 4)) + "... (" +
           std::to_string(secret.size()) + " characters, hidden)";
}

// The console's token when none is configured (128 bits).
constexpr std::size_t generated_token_chars = 32;
bool console_token_generated = false;

// A console is never open without a token: one is made up when none is configured.
config::server with_console_token(config::server s) {
    if (s.console.enabled() && s.console.token.empty()) {
        s.console.token = core::random_hex(generated_token_chars / 2);
        console_token_generated = true;
    }
    return s;
}

// A port the server listens on.
struct endpoint {
    std::string host;
    std::uint16_t port;
    bool tls;
};

// The main port (TLS when TLS is on without a port of its own), and the TLS port when it has one.
std::vector<endpoint> endpoints_of(const config::server& s) {
    std::vector<endpoint> out{{s.host, s.port, s.tls.enabled() && s.tls.port == 0}};
    if (s.tls.enabled() && s.tls.port != 0) {
        out.push_back({s.tls.host.empty() ? s.host : s.tls.host, s.tls.port, true});
    }
    return out;
}

// A token the operator chose is theirs to know; a generated one is useless unless shown.
void print_console_line(const config::server& s, const std::string& host, const endpoint& client) {
    if (!s.console.enabled()) {
        return;
    }
    std::printf("  Console: %s://%s:%u%s", client.tls ? "https" : "http", host.c_str(), client.port,
                s.console.path.c_str());
    if (s.console.token.size() == generated_token_chars && console_token_generated) {
        std::printf("?token=%s (token generated at start: set --console-token to keep one)\n",
                    s.console.token.c_str());
    } else {
        std::printf("?token=<your console token>\n");
    }
}

void print_banner(const config::server& s, unsigned shards, const net::tls_server_context* tls) {
    std::string shown_host =
        s.hostname.empty() ? (s.host == "0.0.0.0" ? std::string("localhost") : s.host) : s.hostname;
    std::vector<endpoint> ends = endpoints_of(s);
    const endpoint& client = ends.back(); // where browsers go: the TLS port when there is one
    const char* ws = client.tls ? "wss" : "ws";
    std::printf("ringcast %s\n", RINGCAST_VERSION);
    for (const endpoint& e : ends) {
        std::printf("  Server started on %s://%s:%u%s (%u shard%s)\n", e.tls ? "https" : "http",
                    e.host.c_str(), e.port, s.path.c_str(), shards, shards == 1 ? "" : "s");
    }
    if (tls != nullptr) {
        // Which way the TLS listener sends: the kernel encrypts (kTLS), or OpenSSL on the shard.
        std::printf("  %s; %s\n", tls->describe().c_str(), tls->describe_sending().c_str());
    }
    std::printf("  Apps from the %s:\n", s.apps_source.c_str());
    for (const auto& a : s.apps) {
        std::printf("    app id: %s  key: %s  secret: %s\n", a.id.c_str(), a.key.c_str(),
                    shown_secret(a.secret).c_str());
        std::printf("    connect: %s://%s:%u%s/app/%s?protocol=7\n", ws, shown_host.c_str(), client.port,
                    s.path.c_str(), a.key.c_str());
    }
    std::printf("  Health: %s://%s:%u%s/up   Stop: Ctrl+C\n", client.tls ? "https" : "http",
                shown_host.c_str(), client.port, s.path.c_str());
    if (s.metrics.enabled()) {
        std::printf("  Metrics: http://%s:%u/metrics\n", s.metrics.host.c_str(), s.metrics.port);
    }
    print_console_line(s, shown_host, client);
    std::fflush(stdout);
}

// SIGHUP with TLS on: read the certificate files again. New handshakes use the new context;
// sessions in progress and established keep the one they started with.
void reload_certificates(net::tls_server_slot& slot, const config::tls_settings& tls) {
    if (!tls.enabled() || slot.load() == nullptr) {
        return; // (turning TLS on or off needs a restart: the listeners stay as they are)
    }
    std::string error;
    std::shared_ptr<const net::tls_server_context> next = net::tls_server_context::create(tls, error);
    if (next == nullptr) {
        RC_LOG_ERROR("SIGHUP: TLS: %s; keeping the certificates in use", error.c_str());
        return;
    }
    RC_LOG_INFO("SIGHUP: TLS certificates reloaded (%s; default certificate serial %s)",
                next->describe().c_str(), next->default_serial().c_str());
    slot.store(std::move(next));
}

// SIGHUP: read the configuration again and hand the apps to the shards. Every generation of
// settings is kept until exit, because shards and sessions hold references into them.
void reload(shard::shard_group& group, webhook::dispatcher& webhooks, cluster::bridge* bridge,
            net::tls_server_slot& tls, std::vector<std::unique_ptr<config::server>>& generations, int argc,
            char** argv, char** envp) {
    core::result<config::command_line> loaded = config::load(argc, argv, envp);
    if (!loaded) {
        RC_LOG_ERROR("SIGHUP: the configuration has an error, keeping the running one: %s",
                     loaded.error().message().c_str());
        return;
    }
    if (loaded->settings.apps.size() + generations.back()->apps.size() > pusher::shared_counters::max_apps) {
        RC_LOG_ERROR("SIGHUP: too many apps (at most %zu over the server's lifetime); restart instead",
                     pusher::shared_counters::max_apps);
        return;
    }
    reload_certificates(tls, loaded->settings.tls);
    std::string log;
    generations.push_back(
        std::make_unique<config::server>(server::merge_reload(*generations.back(), loaded->settings, log)));
    const config::server* next = generations.back().get();
    // The helper threads first: what a shard sends them under the new apps (a connection of an
    // added app, say) must find those apps there.
    webhooks.reload(next);
    if (bridge != nullptr) {
        bridge->reload(next);
    }
    if (!group.control_all([next](unsigned) {
            auto m = std::make_unique<pusher::reload_mail>();
            m->settings = next;
            return m;
        })) {
        RC_LOG_ERROR("SIGHUP: a shard has not taken the previous reload yet; send SIGHUP again");
    }
    RC_LOG_INFO("SIGHUP: configuration reloaded%s%s", log.empty() ? "" : ":\n", log.c_str());
}

// Blocks the stop and reload signals in every thread to come; the main thread collects them
// with sigwait.
sigset_t block_signals() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    return stop_signals;
}

// `ringcast restart`: the server on the port, found before we bind (null: a plain start).
std::unique_ptr<server::takeover> find_predecessor(const config::server& settings) {
    auto t = std::make_unique<server::takeover>(settings.host, settings.port);
    if (!t->needed()) {
        RC_LOG_INFO("restart: nothing listens on %s:%u; starting", settings.host.c_str(), settings.port);
        return nullptr;
    }
    return t;
}

// A plain start: the main port and the metrics port must be free (throws naming the address).
void refuse_taken_ports(const config::server& settings) {
    net::refuse_if_served(settings.host, settings.port);
    if (settings.metrics.enabled()) {
        net::refuse_if_served(settings.metrics.host, settings.metrics.port);
    }
}

// One shard per thread, each with its own listener on each port (throws naming the address).
// Shard 0 also accepts the metrics port's scrapes (rare and small: no need to spread them).
void add_shards(shard::shard_group& group, unsigned count, const config::server& settings,
                pusher::shared_counters& counters, webhook::dispatcher* webhooks,
                const net::tls_server_slot& tls, const cluster::bridge* bridge) {
    server::scrape_sources scrape{&group, &counters, &webhooks->stats(), bridge ? &bridge->stats() : nullptr};
    for (unsigned i = 0; i < count; ++i) {
        std::vector<shard::listener> listeners;
        for (const endpoint& e : endpoints_of(settings)) {
            listeners.push_back({net::listen_reuseport(e.host, e.port), e.tls ? &tls : nullptr});
        }
        bool metrics_here = i == 0 && settings.metrics.enabled();
        auto metrics_listener = static_cast<unsigned>(listeners.size());
        if (metrics_here) {
            listeners.push_back(
                {net::listen_reuseport(settings.metrics.host, settings.metrics.port), nullptr});
        }
        auto s = std::make_unique<shard::shard>(group, i, server::connection_handler::shard_options(settings),
                                                std::move(listeners));
        auto h = std::make_unique<server::connection_handler>(*s, settings, counters, webhooks);
        if (metrics_here) {
            h->serve_metrics(metrics_listener, scrape);
        }
        s->set_handler(std::move(h));
        group.add(std::move(s));
    }
}

// TLS at start: the certificates must load (throws naming the file), and the TLS port must be
// free unless a restart takes it over with the main one.
void load_certificates(const config::server& settings, bool takeover, net::tls_server_slot& slot) {
    std::string error;
    std::shared_ptr<const net::tls_server_context> context =
        net::tls_server_context::create(settings.tls, error);
    if (context == nullptr) {
        throw std::runtime_error("TLS: " + error);
    }
    if (settings.tls.port != 0 && !takeover) {
        net::refuse_if_served(settings.tls.host.empty() ? settings.host : settings.tls.host,
                              settings.tls.port);
    }
    slot.store(std::move(context));
}

// Once our shards accept: the old server's new connections come to us, and it is told to stop.
bool take_over(server::takeover& predecessor, shard::shard_group& group) {
    try {
        predecessor.complete(group.at(0).listen_fd(), group.count());
        return true;
    } catch (const std::exception& e) {
        RC_LOG_ERROR("restart: %s; the old server keeps serving", e.what());
        return false;
    }
}

int start(const config::server& initial, bool restart, int argc, char** argv, char** envp) {
    std::vector<std::unique_ptr<config::server>> generations;
    generations.push_back(std::make_unique<config::server>(with_console_token(initial)));
    const config::server& settings = *generations.front();
    if (std::string problem = net::probe_kernel(); !problem.empty()) {
        RC_LOG_ERROR("%s", problem.c_str());
        return 1;
    }
    raise_open_files_limit();
    unsigned count =
        settings.threads != 0 ? settings.threads : std::max(1u, std::thread::hardware_concurrency());

    sigset_t stop_signals = block_signals();

    shard::shard_group group(count, settings.redis.enabled);
    pusher::shared_counters counters;
    std::unique_ptr<webhook::dispatcher> webhooks;
    std::unique_ptr<cluster::bridge> bridge;
    std::unique_ptr<server::takeover> predecessor;
    net::tls_server_slot tls; // outlives the shards, which read it at each TLS accept
    try {
        if (restart) {
            predecessor = find_predecessor(settings);
        }
        if (predecessor && !settings.redis.enabled) {
            // Long enough for the old server to stop (at most 4 s before its webhooks) and its
            // clients to come back and subscribe again. Not over Redis: there the old node
            // receives the new one's events too until its goodbye, so a replay would repeat them.
            generations.front()->takeover_replay_ms = 10'000;
        }
        if (!predecessor) {
            refuse_taken_ports(settings); // a takeover shares the ports on purpose
        }
        if (settings.tls.enabled()) {
            load_certificates(settings, predecessor != nullptr, tls);
        }
        webhooks = std::make_unique<webhook::dispatcher>(settings);
        if (settings.redis.enabled) {
            bridge = std::make_unique<cluster::bridge>(group, settings, counters, webhooks.get());
        }
        add_shards(group, count, settings, counters, webhooks.get(), tls, bridge.get());
    } catch (const std::exception& e) {
        RC_LOG_ERROR("%s", e.what());
        return 1;
    }

    webhooks->start();
    if (bridge) {
        try {
            bridge->start(); // before the shards, which wake it through its ring
        } catch (const std::exception& e) {
            RC_LOG_ERROR("%s", e.what());
            return 1;
        }
    }
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < count; ++i) {
        threads.emplace_back([&group, i] {
            pin_to_cpu(i);
            group.at(i).run();
        });
    }
    bool ok = group.wait_ready() && (!predecessor || take_over(*predecessor, group));
    if (ok) {
        print_banner(settings, count, tls.load().get());
        int sig = 0;
        while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
            reload(group, *webhooks, bridge.get(), tls, generations, argc, argv, envp);
        }
        RC_LOG_INFO("%s received: closing connections and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    group.stop_all();
    for (auto& t : threads) {
        t.join();
    }
    // After the shards, so the events of their last moments are sent too (within the grace period).
    if (bridge) {
        bridge->stop();
    }
    webhooks->stop();
    return ok ? 0 : 1;
}

// --log-level, --log-format, --debug and its filter; asking for debug lines or for one app's or
// channel's frames turns --debug on.
void apply_log_settings(const config::server& s) {
    using core::log_level;
    log_level least = s.log_level == "debug"   ? log_level::debug
                      : s.log_level == "warn"  ? log_level::warn
                      : s.log_level == "error" ? log_level::error
                                               : log_level::info;
    core::set_log_options(least, s.log_format == "json" ? core::log_format::json : core::log_format::text);
    core::set_debug_filter({s.debug_app, s.debug_channel});
    core::debug_enabled.store(s.debug || least == log_level::debug || !s.debug_app.empty() ||
                              !s.debug_channel.empty());
}

} // namespace

// Built for x86-64-v3 (meson's march option), the code may use AVX2 anywhere: say so rather than
// die of an illegal instruction on an older CPU.
bool cpu_supported() {
#if defined(__x86_64__) && defined(__AVX2__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2")) {
        std::fprintf(stderr,
                     "ringcast: this build needs an x86-64-v3 CPU (AVX2, BMI2: Intel Haswell, AMD Zen or "
                     "newer); rebuild with meson's -Dmarch= (empty) for this one\n");
        return false;
    }
#endif
    return true;
}

int main(int argc, char** argv, char** envp) {
    if (!cpu_supported()) {
        return 1;
    }
    core::result<config::command_line> loaded = config::load(argc, argv, envp);
    if (!loaded) {
        std::fprintf(stderr, "ringcast: %s\n", loaded.error().message().c_str());
        return 1;
    }
    const config::command_line& cmd = *loaded;
    switch (cmd.what) {
    case config::command_line::action::help:
        std::fputs(cmd.help_text.c_str(), stdout);
        return 0;
    case config::command_line::action::version:
        std::printf("ringcast %s\n", RINGCAST_VERSION);
        return 0;
    case config::command_line::action::doctor:
        return doctor::run(cmd.env_file, envp);
    case config::command_line::action::start:
    case config::command_line::action::restart:
        break;
    }
    apply_log_settings(cmd.settings);
    try {
        return start(cmd.settings, cmd.what == config::command_line::action::restart, argc, argv, envp);

    } catch (const std::exception& e) {
        RC_LOG_ERROR("%s", e.what());
        return 1;
    }
}
