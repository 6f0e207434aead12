// The parts every run record shares: identity of the machine and the software, the parameters,
// and the standard figure keys (present in every record, null where a scenario does not measure
// them, so tools can read any record the same way).
#pragma once

#include "histogram.h"
#include "json_writer.h"
#include "options.h"
#include "sys_stats.h"

#include <optional>
#include <string>

namespace ringcast::bench {

struct latency_us {
    double p50 = 0;
    double p90 = 0;
    double p99 = 0;
    double p999 = 0;
    double max = 0;
};
[[nodiscard]] latency_us summarize_us(const histogram& h);

struct standard_figures {
    std::optional<double> deliveries_per_second;
    std::optional<double> server_cpu_us_per_delivery;
    std::optional<double> rss_bytes_per_connection;
    std::optional<double> connects_per_second;
    std::optional<latency_us> latency;
    std::optional<std::uint64_t> lost;
    std::optional<std::uint64_t> duplicated;
    std::optional<double> ceiling_deliveries_per_second;
    std::optional<double> percent_of_ceiling;
};

// Opens the record object and writes schema, scenario, label, date, machine, versions, parameters.
void begin_record(json_writer& w, const options& o, const machine_info& m);
// Writes the standard keys into the already-open "figures" object.
void write_standard_figures(json_writer& w, const standard_figures& f);
void write_latency(json_writer& w, const latency_us& l);
// The latency spectrum for plots: [percentile, µs] pairs from p0 to p99.99 and the max.
void write_spectrum(json_writer& w, const histogram& h);
// Writes the record (closing it) to --json FILE or stdout; returns false if the file failed.
[[nodiscard]] bool emit_record(json_writer& w, const options& o);

// Progress and summaries on stderr, unless --quiet.
void note(const options& o, const char* format, ...) __attribute__((format(printf, 2, 3)));

} // namespace ringcast::bench
