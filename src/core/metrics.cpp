// The Prometheus text exposition format (version 0.0.4): one family after another, label values
// escaped as the format says (backslash, double quote, newline).
#include "ringcast/core/metrics.h"

#include <cstdio>

namespace ringcast::core {

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void prometheus_text::series(std::string_view name, std::span<const label> labels,
                             std::string_view extra_name, std::string_view extra_value) {
    out_ += name;
    if (labels.empty() && extra_name.empty()) {
        out_ += ' ';
        return;
    }
    out_ += '{';
    bool first = true;
    auto one = [&](std::string_view k, std::string_view v) {
        if (!first) {
            out_ += ',';
        }
        first = false;
        out_ += k;
        out_ += "=\"";
        for (char ch : v) {
            if (ch == '\\' || ch == '"') {
                out_ += '\\';
                out_ += ch;
            } else if (ch == '\n') {
                out_ += "\\n";
            } else {
                out_ += ch;
            }
        }
        out_ += '"';
    };
    for (const label& l : labels) {
        one(l.first, l.second);
    }
    if (!extra_name.empty()) {
        one(extra_name, extra_value);
    }
    out_ += "} ";
}

void prometheus_text::sample(std::string_view name, std::initializer_list<label> labels,
                             std::uint64_t value) {
    series(name, std::span<const label>(labels.begin(), labels.size()));
    out_ += std::to_string(value);
    out_ += '\n';
}

void prometheus_text::sample(std::string_view name, std::initializer_list<label> labels, double value) {
    series(name, std::span<const label>(labels.begin(), labels.size()));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", value);
    out_ += buf;
    out_ += '\n';
}

void prometheus_text::histogram_samples(std::string_view name, std::initializer_list<label> labels,
                                        const histogram& h) {
    std::uint64_t counts[histogram::buckets + 1];
    for (std::size_t i = 0; i <= histogram::buckets; ++i) {
        counts[i] = h.bucket(i);
    }
    histogram_samples(name, labels, counts, h.sum_ns());
}

void prometheus_text::histogram_samples(std::string_view name, std::initializer_list<label> labels,
                                        std::span<const std::uint64_t> counts, std::uint64_t sum_ns) {
    std::span<const label> ls(labels.begin(), labels.size());
    std::string bucket_name = std::string(name) + "_bucket";
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        total += counts[i];
        char le[32];
        if (i < histogram::buckets) {
            std::snprintf(le, sizeof le, "%g", histogram::bounds[i]);
        } else {
            std::snprintf(le, sizeof le, "+Inf");
        }
        series(bucket_name, ls, "le", le);
        out_ += std::to_string(total);
        out_ += '\n';
    }
    series(std::string(name) + "_sum", ls);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(sum_ns) / 1e9);
    out_ += buf;
    out_ += '\n';
    series(std::string(name) + "_count", ls);
    out_ += std::to_string(total);
    out_ += '\n';
}

} // namespace ringcast::core
