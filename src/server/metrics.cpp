// The metrics scrape: every family, summed over the shards where the figure is the node's, per
// shard where the shard is the point (load, queues). Runs on shard 0's thread, a few hundred
// microseconds per scrape; it only reads (relaxed loads, core/metrics.h).
#include "ringcast/server/metrics.h"

#include "ringcast/server/connection_handler.h"

#include <ctime>
#include <string>
#include <vector>

namespace ringcast::server {

namespace {

using core::prometheus_text;

// The per-shard sources, found once per scrape.
struct shards_view {
    std::vector<const shard::shard*> io;
    std::vector<const pusher::metrics*> pusher;
    std::vector<const http_metrics*> http;

    template <typename Get> std::uint64_t sum(Get get) const {
        std::uint64_t total = 0;
        for (const pusher::metrics* m : pusher) {
            total += get(*m).get();
        }
        return total;
    }
};

shards_view view_of(shard::shard_group& group) {
    shards_view v;
    for (unsigned i = 0; i < group.count(); ++i) {
        shard::shard& s = group.at(i);
        // Every shard's handler is a connection_handler (main sets them up so).
        auto& h = static_cast<connection_handler&>(s.get_handler());
        v.io.push_back(&s);
        v.pusher.push_back(&h.pusher_stats());
        v.http.push_back(&h.http_stats());
    }
    return v;
}

// soketi's families, per app (soketi's names and meanings, label app_id).
void app_families(prometheus_text& t, const shards_view& v, const config::server& settings,
                  pusher::shared_counters& counters) {
    t.family("soketi_connected", "gauge", "WebSocket connections open now, by app.");
    for (std::size_t i = 0; i < settings.apps.size(); ++i) {
        t.sample("soketi_connected", {{"app_id", settings.apps[i].id}},
                 std::uint64_t{counters.app(i).connections.load(std::memory_order_relaxed)});
    }
    struct family {
        const char* name;
        const char* help;
        core::counter pusher::app_metrics::*field;
    };
    static constexpr family families[] = {
        {"soketi_new_connections_total", "WebSocket connections opened.",
         &pusher::app_metrics::new_connections},
        {"soketi_new_disconnections_total", "WebSocket connections closed.",
         &pusher::app_metrics::disconnections},
        {"soketi_socket_received_bytes", "Bytes of WebSocket messages received (payloads).",
         &pusher::app_metrics::ws_bytes_received},
        {"soketi_socket_transmitted_bytes", "Bytes of WebSocket frames sent.",
         &pusher::app_metrics::ws_bytes_sent},
        {"soketi_ws_messages_received", "WebSocket messages received from clients.",
         &pusher::app_metrics::ws_messages_received},
        {"soketi_ws_messages_sent", "WebSocket messages sent to clients (each delivery counts).",
         &pusher::app_metrics::ws_messages_sent},
        {"soketi_http_received_bytes", "Bytes of HTTP API request bodies.",
         &pusher::app_metrics::http_bytes_received},
        {"soketi_http_transmitted_bytes", "Bytes of HTTP API responses.",
         &pusher::app_metrics::http_bytes_sent},
        {"soketi_http_calls_received_total", "HTTP API requests.", &pusher::app_metrics::http_calls},
    };
    for (const family& f : families) {
        t.family(f.name, "counter", f.help);
        for (std::size_t i = 0; i < settings.apps.size(); ++i) {
            t.sample(
                f.name, {{"app_id", settings.apps[i].id}},
                v.sum([&](const pusher::metrics& m) -> const core::counter& { return m.app(i).*(f.field); }));
        }
    }
}

double cpu_seconds(clockid_t clock) {
    timespec ts{};
    if (clock == -1 || clock_gettime(clock, &ts) != 0) {
        return 0;
    }
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The shards' own work, one series per shard.
void shard_families(prometheus_text& t, const shards_view& v, shard::shard_group& group) {
    struct family {
        const char* name;
        const char* type;
        const char* help;
        std::uint64_t (*get)(const shard::io_metrics&);
    };
    static constexpr family families[] = {
        {"ringcast_connections", "gauge", "Connections open now (WebSocket, HTTP and metrics), by shard.",
         [](const shard::io_metrics& m) { return m.accepted.get() - m.closed.get(); }},
        {"ringcast_connections_accepted_total", "counter", "Connections accepted, by shard.",
         [](const shard::io_metrics& m) { return m.accepted.get(); }},
        {"ringcast_received_bytes_total", "counter", "Bytes read from sockets (before TLS decryption).",
         [](const shard::io_metrics& m) { return m.bytes_received.get(); }},
        {"ringcast_sent_bytes_total", "counter", "Bytes written to sockets (after TLS encryption).",
         [](const shard::io_metrics& m) { return m.bytes_sent.get(); }},
        {"ringcast_sends_total", "counter",
         "Send operations (one per connection per flush, frames coalesced).",
         [](const shard::io_metrics& m) { return m.sends.get(); }},
        {"ringcast_slow_consumer_closes_total", "counter",
         "Connections closed with 4100 for falling behind their write budget.",
         [](const shard::io_metrics& m) { return m.slow_consumer_closes.get(); }},
        {"ringcast_shard_mail_spilled", "gauge", "Mail a shard holds because the receiving queue was full.",
         [](const shard::io_metrics& m) { return m.mail_spilled.get(); }},
        {"ringcast_tls_handshakes_total", "counter", "TLS handshakes completed.",
         [](const shard::io_metrics& m) { return m.tls_handshakes.get(); }},
        {"ringcast_tls_failures_total", "counter",
         "TLS sessions ended by an error: no shared cipher, plain HTTP on the TLS port, a bad record...",
         [](const shard::io_metrics& m) { return m.tls_failures.get(); }},
        {"ringcast_tls_refused_total", "counter",
         "TLS connections closed at accept because the shard had --tls-max-handshakes in progress.",
         [](const shard::io_metrics& m) { return m.tls_refused.get(); }},
        {"ringcast_tls_ktls_connections_total", "counter",
         "TLS connections whose records the kernel encrypts after the handshake (kernel TLS).",
         [](const shard::io_metrics& m) { return m.tls_kernel.get(); }},
        {"ringcast_tls_ktls_fallbacks_total", "counter",
         "TLS connections on a kernel TLS listener that stayed in user space (the kernel or the "
         "cipher refused).",
         [](const shard::io_metrics& m) { return m.tls_kernel_fallbacks.get(); }},
    };
    for (const family& f : families) {
        t.family(f.name, f.type, f.help);
        for (std::size_t i = 0; i < v.io.size(); ++i) {
            std::string shard = std::to_string(i);
            t.sample(f.name, {{"shard", shard}}, f.get(v.io[i]->metrics()));
        }
    }
    t.family("ringcast_shard_mail_queue_depth", "gauge", "Mail queued for a shard and not yet taken.");
    for (unsigned i = 0; i < group.count(); ++i) {
        t.sample("ringcast_shard_mail_queue_depth", {{"shard", std::to_string(i)}},
                 std::uint64_t{group.mail_waiting(i)});
    }
    t.family("ringcast_shard_cpu_seconds_total", "counter",
             "CPU time of a shard's thread; its rate is the shard's utilisation (1 = a whole core).");
    for (std::size_t i = 0; i < v.io.size(); ++i) {
        t.sample("ringcast_shard_cpu_seconds_total", {{"shard", std::to_string(i)}},
                 cpu_seconds(v.io[i]->metrics().cpu_clock.load(std::memory_order_acquire)));
    }
}

// A family labelled by one of a fixed list of names, summed over the shards.
template <std::size_t N>
void by_name(prometheus_text& t, const shards_view& v, const char* name, const char* type, const char* help,
             const char* label, const char* const* names,
             const std::array<core::counter, N> pusher::metrics::*field) {
    t.family(name, type, help);
    for (std::size_t k = 0; k < N; ++k) {
        t.sample(name, {{label, names[k]}},
                 v.sum([&](const pusher::metrics& m) -> const core::counter& { return (m.*field)[k]; }));
    }
}

void pusher_families(prometheus_text& t, const shards_view& v) {
    t.family("ringcast_broadcasts_total", "counter",
             "Events published through this node (HTTP API and client events).");
    t.sample("ringcast_broadcasts_total", {},
             v.sum([](const pusher::metrics& m) -> const core::counter& { return m.broadcasts; }));
    t.family("ringcast_deliveries_total", "counter",
             "Frames queued for subscribers by fan-outs on this node.");
    t.sample("ringcast_deliveries_total", {},
             v.sum([](const pusher::metrics& m) -> const core::counter& { return m.deliveries; }));
    by_name(t, v, "ringcast_subscriptions", "gauge", "Subscriptions now, by channel type.", "type",
            pusher::channel_kind_names, &pusher::metrics::subscriptions);
    by_name(t, v, "ringcast_subscriptions_total", "counter", "Subscriptions made, by channel type.", "type",
            pusher::channel_kind_names, &pusher::metrics::subscriptions_total);
    by_name(t, v, "ringcast_channels", "gauge", "Occupied channels, by type.", "type",
            pusher::channel_kind_names, &pusher::metrics::channels);
    by_name(t, v, "ringcast_auth_failures_total", "counter",
            "Subscription and sign-in signatures refused, by reason.", "reason", pusher::auth_failure_names,
            &pusher::metrics::auth_failures);
    by_name(t, v, "ringcast_client_events_rejected_total", "counter", "Client events not relayed, by reason.",
            "reason", pusher::client_event_refusal_names, &pusher::metrics::client_events_rejected);
    t.family("ringcast_close_codes_total", "counter",
             "WebSocket close frames sent, by code (those sent at least once).");
    for (std::size_t k = 0; k <= std::size(pusher::counted_close_codes); ++k) {
        std::uint64_t n =
            v.sum([&](const pusher::metrics& m) -> const core::counter& { return m.close_codes[k]; });
        if (n != 0) {
            std::string code = k < std::size(pusher::counted_close_codes)
                                   ? std::to_string(pusher::counted_close_codes[k])
                                   : std::string("other");
            t.sample("ringcast_close_codes_total", {{"code", code}}, n);
        }
    }
}

void http_families(prometheus_text& t, const shards_view& v) {
    t.family("ringcast_http_requests_total", "counter",
             "HTTP requests answered, by endpoint and status (combinations seen at least once).");
    for (std::size_t r = 0; r < http_metrics::routes; ++r) {
        for (std::size_t s = 0; s < http_metrics::statuses; ++s) {
            std::uint64_t n = 0;
            for (const http_metrics* h : v.http) {
                n += h->requests[r][s].get();
            }
            if (n != 0) {
                std::string status =
                    s < std::size(counted_statuses) ? std::to_string(counted_statuses[s]) : "other";
                t.sample("ringcast_http_requests_total",
                         {{"endpoint", http_route_names[r]}, {"status", status}}, n);
            }
        }
    }
    t.family("ringcast_http_request_duration_seconds", "histogram",
             "From a request's last byte to its answer being queued, by endpoint (those requested).");
    for (std::size_t r = 0; r < http_metrics::routes; ++r) {
        std::uint64_t counts[core::histogram::buckets + 1] = {};
        std::uint64_t sum_ns = 0;
        std::uint64_t total = 0;
        for (const http_metrics* h : v.http) {
            for (std::size_t b = 0; b <= core::histogram::buckets; ++b) {
                counts[b] += h->latency[r].bucket(b);
                total += h->latency[r].bucket(b);
            }
            sum_ns += h->latency[r].sum_ns();
        }
        if (total != 0) {
            t.histogram_samples("ringcast_http_request_duration_seconds", {{"endpoint", http_route_names[r]}},
                                counts, sum_ns);
        }
    }
}

void webhook_families(prometheus_text& t, const webhook::metrics& w) {
    t.family("ringcast_webhook_batches_total", "counter",
             "Webhook requests: sent (2xx), failed attempts, retries scheduled, dropped out of retry time.");
    t.sample("ringcast_webhook_batches_total", {{"result", "sent"}}, w.batches_sent.get());
    t.sample("ringcast_webhook_batches_total", {{"result", "failed"}}, w.attempts_failed.get());
    t.sample("ringcast_webhook_batches_total", {{"result", "retried"}}, w.retries.get());
    t.sample("ringcast_webhook_batches_total", {{"result", "dropped"}}, w.batches_dropped.get());
    t.family("ringcast_webhook_events_total", "counter",
             "Webhook events: sent, dropped with their batch, or refused because the app's queue was full.");
    t.sample("ringcast_webhook_events_total", {{"result", "sent"}}, w.events_sent.get());
    t.sample("ringcast_webhook_events_total", {{"result", "dropped"}}, w.events_dropped.get());
    t.sample("ringcast_webhook_events_total", {{"result", "overflow"}}, w.events_overflow.get());
}

void cluster_families(prometheus_text& t, const cluster::metrics& c,
                      const pusher::shared_counters& counters) {
    t.family("ringcast_redis_up", "gauge", "1 while the Redis link (publish and subscribe) is up.");
    t.sample("ringcast_redis_up", {},
             std::uint64_t{counters.redis_down.load(std::memory_order_relaxed) ? 0u : 1u});
    t.family("ringcast_redis_link_lost_total", "counter", "Times the Redis link went down.");
    t.sample("ringcast_redis_link_lost_total", {}, c.link_lost.get());
    t.family("ringcast_cluster_messages_total", "counter",
             "Broadcasts between nodes: out (published to Redis), in (from other nodes).");
    t.sample("ringcast_cluster_messages_total", {{"direction", "out"}}, c.published.get());
    t.sample("ringcast_cluster_messages_total", {{"direction", "in"}}, c.received.get());
    t.family("ringcast_cluster_local_only_total", "counter",
             "Client events delivered on this node only because Redis was down.");
    t.sample("ringcast_cluster_local_only_total", {}, c.local_only.get());
}

} // namespace

std::string scrape(const scrape_sources& from, const config::server& settings) {
    prometheus_text t;
    shards_view v = view_of(*from.group);
    app_families(t, v, settings, *from.counters);
    shard_families(t, v, *from.group);
    pusher_families(t, v);
    http_families(t, v);
    if (from.webhooks != nullptr) {
        webhook_families(t, *from.webhooks);
    }
    if (from.cluster != nullptr) {
        cluster_families(t, *from.cluster, *from.counters);
    }
    return t.take();
}

} // namespace ringcast::server
