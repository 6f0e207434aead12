// `report`: turns a set of run records into the results table (markdown), the data files and
// gnuplot script for the plots, and one results.json holding every record.
#include "scenarios.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <simdjson.h>
#include <sstream>
#include <string>
#include <vector>

namespace ringcast::bench {

namespace {

using simdjson::dom::element;

std::optional<double> number(const element& e, std::string_view pointer) {
    element v;
    if (e.at_pointer(pointer).get(v) != simdjson::SUCCESS || v.is_null()) {
        return std::nullopt;
    }
    double d = 0;
    if (v.get_double().get(d) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    return d;
}

std::string text(const element& e, std::string_view pointer) {
    std::string_view s;
    if (e.at_pointer(pointer).get(s) != simdjson::SUCCESS) {
        return {};
    }
    return std::string(s);
}

bool flag(const element& e, std::string_view pointer) {
    bool b = false;
    return e.at_pointer(pointer).get(b) == simdjson::SUCCESS && b;
}

// 1234567 -> "1,234,567"
std::string grouped(double value) {
    auto n = static_cast<long long>(std::llround(value));
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string fixed(std::optional<double> value, int decimals) {
    if (!value) {
        return "—";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, *value);
    return buf;
}

std::string count(std::optional<double> value) {
    return value ? grouped(*value) : "—";
}

// Latency in µs with sensible precision: 3 significant digits below 100, whole numbers above.
std::string micros(std::optional<double> value) {
    if (!value) {
        return "—";
    }
    return *value < 10 ? fixed(value, 1) : grouped(*value);
}

std::string rate_label(const element& r) {
    std::optional<double> rate = number(r, "/parameters/rate");
    if (!rate || *rate <= 0) {
        auto window = number(r, "/parameters/window").value_or(1);
        return window <= 1 ? "closed loop, one at a time" : "closed loop, window " + grouped(window);
    }
    return grouped(*rate) + "/s";
}

// What the "load" section says about the trust one can put in a run's figures.
std::string load_notes(const element& r) {
    std::string notes;
    if (flag(r, "/load/bench_saturated")) {
        notes += "bench saturated; ";
    }
    if (flag(r, "/load/machine_shared")) {
        notes += "machine shared (" + fixed(number(r, "/load/other_processes_cpu_percent"), 0) +
                 "% CPU in other processes); ";
    } else if (number(r, "/load/machine_busy_percent").value_or(0) >= 95) {
        notes += "machine saturated; ";
    }
    if (!notes.empty()) {
        notes.resize(notes.size() - 2);
    }
    return notes;
}

// What the notes column says about a delivery run: load, then anything that went wrong.
std::string run_notes(const element& r) {
    std::string notes = load_notes(r);
    if (!notes.empty()) {
        notes += "; ";
    }
    auto note_count = [&](std::string_view pointer, std::string_view what) {
        if (number(r, pointer).value_or(0) > 0) {
            notes += count(number(r, pointer)) + " " + std::string(what) + "; ";
        }
    };
    note_count("/figures/late_events", "events sent late");
    note_count("/figures/stalls", "stalls");
    note_count("/figures/disconnected", "disconnected");
    note_count("/connections/failed", "failed to subscribe");
    note_count("/figures/echoed_to_sender", "client events echoed to their sender");
    note_count("/figures/joins_refused", "joins refused");
    note_count("/figures/presence_payloads_not_sane", "wrong presence payloads");
    note_count("/figures/skipped_actions", "actions skipped (still joining, or behind schedule)");
    if (!text(r, "/first_publish_error").empty()) {
        notes += "publish errors; ";
    }
    if (!notes.empty()) {
        notes.resize(notes.size() - 2);
    }
    return notes;
}

// "p50 | p90 | p99 | p99.9 | max | lost | dup | " of a delivery run.
std::string latency_and_losses(const element& r) {
    std::string out;
    for (std::string_view p : {"p50", "p90", "p99", "p999", "max"}) {
        out += micros(number(r, "/figures/latency_us/" + std::string(p))) + " | ";
    }
    return out + count(number(r, "/figures/lost")) + " | " + count(number(r, "/figures/duplicated")) + " | ";
}

struct loaded {
    std::string path;
    std::string raw;
    element root;
};

bool write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    return static_cast<bool>(out);
}

// "start / peak / end" of one of the soak's server readings; RSS in MiB.
std::string soak_triple(const element& r, std::string_view what, bool mib) {
    std::string out;
    for (std::string_view at : {"start", "peak", "end"}) {
        std::optional<double> v = number(r, "/server/" + std::string(what) + "/" + std::string(at));
        if (v && mib) {
            v = *v / (1024.0 * 1024.0);
        }
        out += (mib ? fixed(v, 1) : count(v)) + (at == "end" ? "" : " / ");
    }
    return out;
}

// **Soak**: one row per soak run (stable clients' losses, churn, the server's RSS and files).
void write_soak_table(std::ostringstream& md, const std::vector<const loaded*>& soaks) {
    if (soaks.empty()) {
        return;
    }
    md << "**Soak** — stable clients on public channels and a presence channel while other connections "
       << "churn through the presence channel and numbered events arrive in order; the server's RSS and "
       << "open files at the start (stable clients on), peak, and end (churn over):\n\n"
       << "| target | duration (s) | stable clients | events/s | churn connects/s | expected | received "
       << "| lost | dup | out of order | churn completed | churn failed | RSS MiB start / peak / end "
       << "| fds start / peak / end | result |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n";
    for (const loaded* r : soaks) {
        std::string error = text(r->root, "/error");
        std::string notes = load_notes(r->root);
        md << "| " << text(r->root, "/label") << " | " << count(number(r->root, "/parameters/duration_s"))
           << " | " << count(number(r->root, "/figures/stable_clients")) << " | "
           << count(number(r->root, "/parameters/rate")) << " | "
           << count(number(r->root, "/parameters/churn_rate")) << " | "
           << count(number(r->root, "/figures/expected_deliveries")) << " | "
           << count(number(r->root, "/figures/deliveries")) << " | "
           << count(number(r->root, "/figures/lost")) << " | "
           << count(number(r->root, "/figures/duplicated")) << " | "
           << count(number(r->root, "/figures/out_of_order")) << " | "
           << count(number(r->root, "/figures/churn/completed")) << " | "
           << count(number(r->root, "/figures/churn/failed")) << " | "
           << soak_triple(r->root, "rss_bytes", true) << " | " << soak_triple(r->root, "open_fds", false)
           << " | " << (error.empty() ? "pass" : "FAIL: " + error) << (notes.empty() ? "" : "; " + notes)
           << " |\n";
    }
    md << "\n";
}

std::string gnuplot_quote(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
        }
        out += ch;
    }
    return out + "\"";
}

// A ceiling paced at a fixed rate (--rate): the floor for fan-outs at that rate.
bool paced(const element& r) {
    return number(r, "/parameters/rate").value_or(0) > 0;
}

// A fixed-rate fan-out's CPU per delivery over the paced ceiling's at the same size and rate.
std::optional<double> vs_paced_ceiling(const element& r, const std::vector<const loaded*>& paced_ceilings) {
    auto rate = number(r, "/parameters/rate");
    auto n = number(r, "/parameters/connections");
    auto cpu = number(r, "/figures/server_cpu_us_per_delivery");
    if (!rate || *rate <= 0 || !cpu || text(r, "/scenario") != "fanout") {
        return std::nullopt;
    }
    for (const loaded* c : paced_ceilings) {
        auto floor_cpu = number(c->root, "/figures/server_cpu_us_per_delivery");
        if (number(c->root, "/parameters/rate") == rate && number(c->root, "/parameters/connections") == n &&
            floor_cpu && *floor_cpu > 0) {
            return *cpu / *floor_cpu;
        }
    }
    return std::nullopt;
}

void write_paced_ceiling_table(std::ostringstream& md, const std::vector<const loaded*>& paced_ceilings) {
    if (paced_ceilings.empty()) {
        return;
    }
    md << "**Ceiling at a fixed rate** — the same raw sender, one pass of one frame to every socket "
       << "per event at the fan-out runs' rates, idle in between (the floor for events arriving one "
       << "at a time at that rate):\n\n"
       << "| connections | passes/s | deliveries/s | sender CPU µs/delivery | notes |\n"
       << "|---:|---:|---:|---:|---|\n";
    for (const loaded* r : paced_ceilings) {
        md << "| " << count(number(r->root, "/parameters/connections")) << " | "
           << count(number(r->root, "/parameters/rate")) << " | "
           << count(number(r->root, "/figures/ceiling_deliveries_per_second")) << " | "
           << fixed(number(r->root, "/figures/server_cpu_us_per_delivery"), 2) << " | "
           << (flag(r->root, "/figures/machine_shared") ? "machine shared " : "")
           << (flag(r->root, "/figures/bench_saturated") ? "bench saturated" : "") << " |\n";
    }
    md << "\n";
}

} // namespace

int run_report(const options& o) {
    simdjson::dom::parser parser;
    std::vector<simdjson::padded_string> texts;
    std::vector<loaded> records;
    texts.reserve(o.inputs.size());
    for (const std::string& path : o.inputs) {
        simdjson::padded_string raw;
        if (simdjson::padded_string::load(path).get(raw) != simdjson::SUCCESS) {
            std::fprintf(stderr, "ringcast-bench report: cannot read %s\n", path.c_str());
            return 1;
        }
        texts.push_back(std::move(raw));
    }
    // A dom::parser owns the document it parsed last, so give each record its own parser.
    std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        parsers.push_back(std::make_unique<simdjson::dom::parser>());
        element root;
        if (parsers.back()->parse(texts[i]).get(root) != simdjson::SUCCESS) {
            std::fprintf(stderr, "ringcast-bench report: %s is not a JSON record, skipped\n",
                         o.inputs[i].c_str());
            continue;
        }
        records.push_back({o.inputs[i], std::string(texts[i].data(), texts[i].size()), root});
    }
    if (records.empty()) {
        std::fprintf(stderr, "ringcast-bench report: no records\n");
        return 1;
    }

    std::vector<const loaded*> ceilings;
    std::vector<const loaded*> paced_ceilings;
    std::vector<const loaded*> connects;
    std::vector<const loaded*> fanouts;
    std::vector<const loaded*> peers;
    std::vector<const loaded*> soaks;
    for (const loaded& r : records) {
        std::string scenario = text(r.root, "/scenario");
        if (scenario == "ceiling") {
            (paced(r.root) ? paced_ceilings : ceilings).push_back(&r);
        } else if (scenario == "connect") {
            connects.push_back(&r);
        } else if (scenario == "fanout" || scenario == "channels") {
            fanouts.push_back(&r);
        } else if (scenario == "presence" || scenario == "whisper") {
            peers.push_back(&r);
        } else if (scenario == "soak") {
            soaks.push_back(&r);
        }
    }
    auto by_connections = [](const loaded* a, const loaded* b) {
        return number(a->root, "/parameters/connections") < number(b->root, "/parameters/connections");
    };
    std::stable_sort(ceilings.begin(), ceilings.end(), by_connections);
    std::stable_sort(paced_ceilings.begin(), paced_ceilings.end(), by_connections);
    std::stable_sort(connects.begin(), connects.end(), by_connections);
    std::stable_sort(fanouts.begin(), fanouts.end(), by_connections);
    std::stable_sort(peers.begin(), peers.end(), by_connections);

    const element& first = records.front().root;
    std::ostringstream md;
    md << "Machine: `" << text(first, "/machine/hostname") << "`, Linux " << text(first, "/machine/kernel")
       << ", " << count(number(first, "/machine/cores")) << " cores (" << text(first, "/machine/cpu") << "), "
       << fixed(number(first, "/machine/memory_bytes").value_or(0) / (1024.0 * 1024 * 1024), 0) << " GiB; "
       << "ringcast-bench " << text(first, "/versions/ringcast_bench") << ", liburing "
       << text(first, "/versions/liburing") << "; " << text(first, "/date") << ".\n\n";

    if (!ceilings.empty()) {
        md << "**Ceiling** — raw io_uring sender, pre-framed 66-byte frames, no protocol "
           << "(the machine's limit):\n\n"
           << "| connections | deliveries/s, 1 frame per send | sender CPU µs/delivery "
           << "| deliveries/s, coalesced | sender CPU µs/delivery | frames per coalesced send "
           << "| one fan-out pass (µs) | notes |\n"
           << "|---:|---:|---:|---:|---:|---:|---:|---|\n";
        for (const loaded* r : ceilings) {
            md << "| " << count(number(r->root, "/parameters/connections")) << " | "
               << count(number(r->root, "/figures/ceiling_deliveries_per_second")) << " | "
               << fixed(number(r->root, "/figures/server_cpu_us_per_delivery"), 2) << " | "
               << count(number(r->root, "/figures/ceiling_coalesced_deliveries_per_second")) << " | "
               << fixed(number(r->root, "/figures/coalesced_sender_cpu_us_per_delivery"), 2) << " | "
               << count(number(r->root, "/parameters/coalesce")) << " | "
               << micros(number(r->root, "/figures/fanout_pass_us")) << " | "
               << (flag(r->root, "/figures/machine_shared") ? "machine shared " : "")
               << (flag(r->root, "/figures/bench_saturated") ? "bench saturated" : "") << " |\n";
        }
        md << "\n";
    }
    write_paced_ceiling_table(md, paced_ceilings);
    if (!connects.empty()) {
        md << "**Connect** — TCP + WebSocket upgrade + `connection_established` + subscribe + "
           << "`subscription_succeeded`:\n\n"
           << "| target | connections | established | failed | connects/s | connect p50 / p99 (µs) | "
           << "server RSS per connection (bytes) | server CPU µs/connection | notes |\n"
           << "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
        for (const loaded* r : connects) {
            md << "| " << text(r->root, "/label") << " | "
               << count(number(r->root, "/parameters/connections")) << " | "
               << count(number(r->root, "/figures/established")) << " | "
               << count(number(r->root, "/figures/failed")) << " | "
               << count(number(r->root, "/figures/connects_per_second")) << " | "
               << micros(number(r->root, "/connections/connect_latency_us/p50")) << " / "
               << micros(number(r->root, "/connections/connect_latency_us/p99")) << " | "
               << count(number(r->root, "/figures/rss_bytes_per_connection")) << " | "
               << fixed(number(r->root, "/figures/server_cpu_us_per_connection"), 1) << " | "
               << load_notes(r->root) << " |\n";
        }
        md << "\n";
    }
    if (!fanouts.empty()) {
        md << "**Fan-out** — publisher on the signed HTTP API; `fanout` subscribers share one public "
           << "channel, `channels` subscribers each have their own (private unless marked public); "
           << "latency from the publisher's stamp to arrival:\n\n"
           << "| target | scenario | subscribers | events | deliveries/s | % of ceiling "
           << "| server CPU µs/delivery | × ceiling CPU | × ceiling CPU at this rate | p50 | p90 | p99 "
           << "| p99.9 | max (µs) | lost | dup | notes |\n"
           << "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
        for (const loaded* r : fanouts) {
            std::string notes = run_notes(r->root);
            std::string scenario = text(r->root, "/scenario");
            if (scenario == "channels" && !flag(r->root, "/parameters/private")) {
                scenario += " (public)";
            }
            md << "| " << text(r->root, "/label") << " | " << scenario << " | "
               << count(number(r->root, "/figures/subscribers")) << " | " << rate_label(r->root) << " | "
               << count(number(r->root, "/figures/deliveries_per_second")) << " | "
               << fixed(number(r->root, "/figures/percent_of_ceiling"), 0) << " | "
               << fixed(number(r->root, "/figures/server_cpu_us_per_delivery"), 2) << " | "
               << fixed(number(r->root, "/figures/cpu_vs_ceiling"), 2) << " | "
               << fixed(vs_paced_ceiling(r->root, paced_ceilings), 2) << " | " << latency_and_losses(r->root)
               << notes << " |\n";
        }
        md << "\n";
    }

    if (!peers.empty()) {
        md << "**Presence and client events** — `presence`: observers on each presence channel count "
           << "`member_added`/`member_removed` while the other members join and leave (latency: join sent "
           << "to `member_added` seen); `whisper`: members of each private channel send `client-` events "
           << "to the others (latency: sent to received):\n\n"
           << "| target | scenario | connections | channels × members | actions | deliveries/s "
           << "| server CPU µs/delivery | p50 | p90 | p99 | p99.9 | max (µs) | lost | dup | notes |\n"
           << "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
        for (const loaded* r : peers) {
            bool presence = text(r->root, "/scenario") == "presence";
            std::string actions =
                presence ? count(number(r->root, "/parameters/rate")) + " joins + leaves/s, " +
                               count(number(r->root, "/parameters/observers")) + " observers per channel"
                         : fixed(number(r->root, "/parameters/rate"), 0) + " events/s per connection";
            md << "| " << text(r->root, "/label") << " | " << text(r->root, "/scenario") << " | "
               << count(number(r->root, "/parameters/connections")) << " | "
               << count(number(r->root, "/figures/groups")) << " × "
               << count(number(r->root, "/figures/group_size")) << " | " << actions << " | "
               << count(number(r->root, "/figures/deliveries_per_second")) << " | "
               << fixed(number(r->root, "/figures/server_cpu_us_per_delivery"), 2) << " | "
               << latency_and_losses(r->root) << run_notes(r->root) << " |\n";
        }
        md << "\n";
    }

    write_soak_table(md, soaks);

    // results.json: every record, in the order given.
    std::string all = "[\n";
    for (std::size_t i = 0; i < records.size(); ++i) {
        std::string raw = records[i].raw;
        while (!raw.empty() && (raw.back() == '\n' || raw.back() == ' ')) {
            raw.pop_back();
        }
        all += raw;
        all += i + 1 < records.size() ? ",\n" : "\n";
    }
    all += "]\n";

    // latency.dat: one block per fan-out run (percentile, µs). The plot has one panel per
    // connection count, so each panel holds a handful of lines that can be told apart.
    struct latency_line {
        std::size_t block;
        double connections;
        std::string title;
    };
    std::ostringstream latency;
    std::vector<latency_line> latency_lines;
    for (const loaded* r : fanouts) {
        element spectrum;
        if (r->root.at_pointer("/latency_spectrum_us").get(spectrum) != simdjson::SUCCESS) {
            continue;
        }
        std::ostringstream block;
        std::size_t points = 0;
        for (element point : spectrum.get_array()) {
            double p = 0;
            double us = 0;
            if (point.at(0).get_double().get(p) != simdjson::SUCCESS ||
                point.at(1).get_double().get(us) != simdjson::SUCCESS || p >= 100 || us <= 0) {
                continue;
            }
            block << p << ' ' << us << '\n';
            ++points;
        }
        if (points == 0) {
            continue;
        }
        latency << "# " << r->path << '\n' << block.str() << "\n\n";
        std::string scenario = text(r->root, "/scenario");
        latency_lines.push_back({latency_lines.size(), number(r->root, "/parameters/connections").value_or(0),
                                 text(r->root, "/label") + ", " +
                                     (scenario == "fanout" ? "" : scenario + ", ") + rate_label(r->root)});
    }

    // scaling.dat: one block per series (connections, deliveries/s, CPU µs per delivery). The
    // ceilings and the closed-loop (saturation) runs are drawn as lines across sizes; open-loop runs
    // at fixed rates are single points (their throughput is just rate x subscribers).
    struct series {
        std::string title;
        bool lines;
        std::vector<std::array<double, 3>> points;
    };
    std::vector<series> scaling;
    auto add_point = [&](const std::string& title, bool lines, double x, std::optional<double> dps,
                         std::optional<double> cpu) {
        auto it =
            std::find_if(scaling.begin(), scaling.end(), [&](const series& s) { return s.title == title; });
        if (it == scaling.end()) {
            scaling.push_back({title, lines, {}});
            it = scaling.end() - 1;
        }
        it->points.push_back({x, dps.value_or(NAN), cpu.value_or(NAN)});
    };
    for (const loaded* r : ceilings) {
        double n = number(r->root, "/parameters/connections").value_or(0);
        add_point("ceiling, 1 frame per send", true, n,
                  number(r->root, "/figures/ceiling_deliveries_per_second"),
                  number(r->root, "/figures/server_cpu_us_per_delivery"));
        add_point("ceiling, " + count(number(r->root, "/parameters/coalesce")) + " frames per send", true, n,
                  number(r->root, "/figures/ceiling_coalesced_deliveries_per_second"),
                  number(r->root, "/figures/coalesced_sender_cpu_us_per_delivery"));
    }
    for (const loaded* r : fanouts) {
        bool closed = number(r->root, "/parameters/rate").value_or(0) <= 0;
        std::string title = text(r->root, "/label") + " " + text(r->root, "/scenario") +
                            (closed ? ", " + rate_label(r->root) + " (saturation)" : ", fixed rates");
        add_point(title, closed, number(r->root, "/figures/subscribers").value_or(0),
                  number(r->root, "/figures/deliveries_per_second"),
                  number(r->root, "/figures/server_cpu_us_per_delivery"));
    }
    std::ostringstream scaling_dat;
    for (const series& s : scaling) {
        scaling_dat << "# " << s.title << '\n';
        for (const auto& p : s.points) {
            scaling_dat << p[0] << ' ';
            for (std::size_t i = 1; i < 3; ++i) {
                if (std::isnan(p[i])) {
                    scaling_dat << "NaN ";
                } else {
                    scaling_dat << p[i] << ' ';
                }
            }
            scaling_dat << '\n';
        }
        scaling_dat << "\n\n";
    }

    // A log axis over a narrow range gets almost no tics: put one at every size that was run.
    double min_x = 1e18;
    double max_x = 0;
    std::vector<double> sizes;
    for (const series& s : scaling) {
        for (const auto& p : s.points) {
            min_x = std::min(min_x, p[0]);
            max_x = std::max(max_x, p[0]);
            if (std::find(sizes.begin(), sizes.end(), p[0]) == sizes.end()) {
                sizes.push_back(p[0]);
            }
        }
    }
    std::sort(sizes.begin(), sizes.end());
    std::string xtics;
    for (double x : sizes) {
        xtics += (xtics.empty() ? "" : ", ") + std::to_string(static_cast<long long>(x));
    }

    std::ostringstream gp;
    gp << "# Generated by ringcast-bench report; run with: gnuplot plots.gp (in this directory)\n"
       << "set terminal pngcairo size 1000,720 enhanced font 'Sans,10'\n"
       << "set grid\nset key below\nset datafile missing 'NaN'\n"
       // gnuplot's default palette has a pale yellow; these eight stay readable on white.
       << "set linetype 1 lc rgb '#1f77b4'\nset linetype 2 lc rgb '#d62728'\nset linetype 3 lc rgb "
          "'#2ca02c'\n"
       << "set linetype 4 lc rgb '#9467bd'\nset linetype 5 lc rgb '#ff7f0e'\nset linetype 6 lc rgb "
          "'#8c564b'\n"
       << "set linetype 7 lc rgb '#e377c2'\nset linetype 8 lc rgb '#17becf'\nset linetype cycle 8\n";
    if (!latency_lines.empty()) {
        std::vector<double> panels;
        for (const latency_line& l : latency_lines) {
            if (std::find(panels.begin(), panels.end(), l.connections) == panels.end()) {
                panels.push_back(l.connections);
            }
        }
        std::sort(panels.begin(), panels.end());
        gp << "set terminal pngcairo size 1000," << 80 + 300 * panels.size() << " enhanced font 'Sans,10'\n"
           << "set output 'latency.png'\nset key outside right top\n"
           << "set multiplot layout " << panels.size() << ",1 title "
           << "'Fan-out delivery latency by percentile (publisher stamp to arrival)'\n"
           << "set logscale x\nset logscale y\nset xrange [1:10000]\n"
           // Explicit tic labels are format strings to gnuplot: a percent sign is written %%.
           << "set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n"
           << "set ylabel 'latency (µs)'\n";
        for (std::size_t p = 0; p < panels.size(); ++p) {
            gp << "set title " << gnuplot_quote(count(panels[p]) + " connections") << "\n"
               << (p + 1 == panels.size() ? "set xlabel 'percentile'\n" : "") << "plot ";
            bool first_line = true;
            for (const latency_line& l : latency_lines) {
                if (l.connections != panels[p]) {
                    continue;
                }
                gp << (first_line ? "" : ", \\\n     ") << "'latency.dat' index " << l.block
                   << " using (1/(1-$1/100)):2 with lines lw 2 title " << gnuplot_quote(l.title);
                first_line = false;
            }
            gp << "\n";
        }
        gp << "unset multiplot\nunset xtics\nset xtics\nunset xrange\nunset logscale\nunset xlabel\n"
           << "set key below\nset terminal pngcairo size 1000,720 enhanced font 'Sans,10'\n";
    }
    if (!scaling.empty()) {
        gp << "set output 'throughput.png'\n"
           << "set title 'Deliveries per second against connection count'\n"
           << "set logscale x\nset logscale y\nset xlabel 'connections (subscribers)'\n"
           << "set xrange [" << min_x / 1.5 << ":" << max_x * 1.5 << "]\nset xtics (" << xtics << ")\n"
           << "set ylabel 'deliveries per second'\nplot ";
        for (std::size_t i = 0; i < scaling.size(); ++i) {
            gp << (i > 0 ? ", \\\n     " : "") << "'scaling.dat' index " << i << " using 1:2 "
               << (scaling[i].lines ? "with linespoints lw 2 pt 7" : "with points ps 1.5 pt 5") << " title "
               << gnuplot_quote(scaling[i].title);
        }
        gp << "\nset output 'cpu_per_delivery.png'\n"
           << "set title 'Server (or ceiling sender) CPU per delivery against connection count'\n"
           << "set ylabel 'CPU µs per delivery'\nplot ";
        for (std::size_t i = 0; i < scaling.size(); ++i) {
            gp << (i > 0 ? ", \\\n     " : "") << "'scaling.dat' index " << i << " using 1:3 "
               << (scaling[i].lines ? "with linespoints lw 2 pt 7" : "with points ps 1.5 pt 5") << " title "
               << gnuplot_quote(scaling[i].title);
        }
        gp << "\n";
    }

    const std::string dir = o.out_dir + "/";
    bool ok = write_file(dir + "results.md", md.str()) && write_file(dir + "results.json", all) &&
              write_file(dir + "latency.dat", latency.str()) &&
              write_file(dir + "scaling.dat", scaling_dat.str()) && write_file(dir + "plots.gp", gp.str());
    if (!ok) {
        std::fprintf(stderr, "ringcast-bench report: cannot write into %s\n", o.out_dir.c_str());
        return 1;
    }
    std::fputs(md.str().c_str(), stdout);
    return 0;
}

} // namespace ringcast::bench
