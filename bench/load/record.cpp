// Shared record sections and the latency spectrum.
#include "record.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <liburing.h>

#ifndef RINGCAST_BENCH_VERSION
#define RINGCAST_BENCH_VERSION "unknown"
#endif

namespace ringcast::bench {

latency_us summarize_us(const histogram& h) {
    auto us = [&](double q) { return static_cast<double>(h.quantile(q)) / 1000.0; };
    return {us(0.50), us(0.90), us(0.99), us(0.999), static_cast<double>(h.max()) / 1000.0};
}

void begin_record(json_writer& w, const options& o, const machine_info& m) {
    char date[32] = {};
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);

    w.begin_object();
    w.key("schema").value("ringcast-bench/1");
    w.key("scenario").value(o.scenario);
    w.key("label").value(o.label.empty() ? std::string("unlabelled target") : o.label);
    w.key("date").value(date);
    w.key("machine").begin_object();
    w.key("hostname").value(m.hostname);
    w.key("kernel").value(m.kernel);
    w.key("kernel_build").value(m.kernel_version);
    w.key("arch").value(m.arch);
    w.key("cpu").value(m.cpu_model);
    w.key("cores").value(m.cores);
    w.key("memory_bytes").value(m.memory_bytes);
    w.key("open_file_limit").value(m.open_file_limit);
    w.key("loadavg_1m_at_start").value(m.loadavg_1m);
    w.end_object();
    w.key("versions").begin_object();
    w.key("ringcast_bench").value(RINGCAST_BENCH_VERSION);
    w.key("liburing")
        .value(std::to_string(IO_URING_VERSION_MAJOR) + "." + std::to_string(IO_URING_VERSION_MINOR));
    w.key("compiler").value(__VERSION__);
    w.end_object();
    w.key("parameters").begin_object();
    if (o.scenario != "ceiling") {
        w.key("host").value(o.server.host);
        w.key("port").value(static_cast<unsigned>(o.server.port));
        w.key("path").value(o.server.path);
        w.key("app_id").value(o.server.app_id);
        w.key("app_key").value(o.server.app_key);
    }
    w.key("connections").value(o.connections);
    w.key("receiver_threads").value(o.threads);
    if (o.scenario == "ceiling") {
        w.key("sender_threads").value(o.sender_threads);
        w.key("frame_bytes").value(66);
        w.key("coalesce").value(o.coalesce);
        w.key("duration_s").value(o.duration_s);
        w.key("rate").value(o.rate); // passes per second (paced), 0: back to back
    } else {
        w.key("concurrency").value(o.concurrency);
        w.key("connect_rate").value(o.connect_rate);
    }
    const bool peers = o.scenario == "presence" || o.scenario == "whisper";
    if (o.scenario == "fanout" || o.scenario == "channels" || peers || o.scenario == "soak") {
        w.key("duration_s").value(o.duration_s);
        // presence: joins + leaves per second in total; whisper: client events per second per
        // connection; otherwise events per second (0 = closed loop).
        w.key("rate").value(o.rate);
        w.key("channel").value(o.channel);
    }
    if (o.scenario == "fanout" || o.scenario == "channels") {
        w.key("mode").value(o.rate > 0 ? "open-loop" : "closed-loop");
        w.key("window").value(o.window);
        w.key("batch").value(o.batch);
        w.key("publishers").value(o.publishers);
        w.key("payload_bytes").value(o.payload_bytes);
        if (o.scenario == "channels") {
            w.key("channels_per_event").value(o.channels_per_event);
            w.key("private").value(!o.public_channels);
        }
    }
    if (peers) {
        w.key("group_size").value(o.group_size);
        if (o.scenario == "presence") {
            w.key("observers").value(o.observers);
        } else {
            w.key("client_event_limit").value(o.client_event_limit);
        }
    }
    if (o.scenario == "soak") {
        w.key("group_size").value(o.group_size);
        w.key("churn_rate").value(o.churn_rate);
        w.key("churn_stay_s").value(o.churn_stay_s);
        w.key("presence_limit").value(o.presence_limit);
        w.key("payload_bytes").value(o.payload_bytes);
    }
    if (o.server_pid > 0) {
        w.key("server_pid").value(o.server_pid);
    } else {
        w.key("server_pid").null();
    }
    w.end_object();
}

void write_latency(json_writer& w, const latency_us& l) {
    w.begin_object(true);
    w.key("p50").value(l.p50);
    w.key("p90").value(l.p90);
    w.key("p99").value(l.p99);
    w.key("p999").value(l.p999);
    w.key("max").value(l.max);
    w.end_object();
}

void write_standard_figures(json_writer& w, const standard_figures& f) {
    w.key("deliveries_per_second").value(f.deliveries_per_second);
    w.key("server_cpu_us_per_delivery").value(f.server_cpu_us_per_delivery);
    w.key("rss_bytes_per_connection").value(f.rss_bytes_per_connection);
    w.key("connects_per_second").value(f.connects_per_second);
    w.key("latency_us");
    if (f.latency) {
        write_latency(w, *f.latency);
    } else {
        w.null();
    }
    w.key("lost").value(f.lost);
    w.key("duplicated").value(f.duplicated);
    w.key("ceiling_deliveries_per_second").value(f.ceiling_deliveries_per_second);
    w.key("percent_of_ceiling").value(f.percent_of_ceiling);
}

void write_spectrum(json_writer& w, const histogram& h) {
    // Points spaced evenly in "nines" (log of 1/(1-p)), as latency-by-percentile plots draw them.
    w.begin_array();
    for (int step = 0; step <= 40; ++step) {
        double nines = step / 10.0; // 0 .. 4 nines = p0 .. p99.99
        double q = 1.0 - std::pow(10.0, -nines);
        w.begin_array(true).value(100.0 * q).value(static_cast<double>(h.quantile(q)) / 1000.0).end_array();
    }
    w.begin_array(true).value(100.0).value(static_cast<double>(h.max()) / 1000.0).end_array();
    w.end_array();
}

bool emit_record(json_writer& w, const options& o) {
    w.end_object();
    if (o.json_path.empty()) {
        std::fputs(w.str().c_str(), stdout);
        std::fflush(stdout);
        return true;
    }
    std::FILE* f = std::fopen(o.json_path.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "ringcast-bench: cannot write %s\n", o.json_path.c_str());
        return false;
    }
    bool ok = std::fputs(w.str().c_str(), f) >= 0;
    ok = std::fclose(f) == 0 && ok;
    return ok;
}

void note(const options& o, const char* format, ...) {
    if (o.quiet) {
        return;
    }
    std::va_list args;
    va_start(args, format);
    std::fputs("ringcast-bench: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
    va_end(args);
}

} // namespace ringcast::bench
