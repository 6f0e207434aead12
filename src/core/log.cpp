// stderr logger: one write(2) per line so threads never interleave their output (see log.h).
#include "ringcast/core/log.h"

#include "ringcast/core/json_writer.h"

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace ringcast::core {

std::atomic<bool> debug_enabled{false};

namespace {
thread_local int log_shard = -1;
std::atomic<int> least_level{static_cast<int>(log_level::info)};
std::atomic<log_format> line_format{log_format::text};
debug_filter filter; // written once at start, before the shards run
bool filtering = false;

const char* level_name(log_level level) noexcept {
    switch (level) {
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info";
    case log_level::warn:
        return "warn";
    case log_level::error:
        return "error";
    }
    return "?";
}

// One call site's budget on this thread.
struct site_budget {
    const char* site = nullptr;
    unsigned long long window_start = 0;
    unsigned printed = 0;
    unsigned long long suppressed = 0;
};
constexpr unsigned site_slots = 128;
thread_local site_budget budgets[site_slots];

unsigned long long monotonic_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000 +
           static_cast<unsigned long long>(ts.tv_nsec) / 1'000'000;
}

// Whether the call site may print now; `carried` gets what it suppressed in its last window.
bool admit(const char* site, unsigned long long& carried) noexcept {
    auto h = static_cast<unsigned>((reinterpret_cast<std::uintptr_t>(site) >> 3) % site_slots);
    site_budget* b = nullptr;
    for (unsigned probe = 0; probe < site_slots && b == nullptr; ++probe) {
        site_budget& s = budgets[(h + probe) % site_slots];
        if (s.site == site || s.site == nullptr) {
            b = &s;
        }
    }
    if (b == nullptr) {
        return true; // more call sites than slots on one thread: not limited
    }
    unsigned long long now = monotonic_ms();
    if (b->site == nullptr || now >= b->window_start + window_ms) {
        carried = b->suppressed;
        *b = site_budget{site, now, 0, 0};
    }
    if (b->printed < burst_lines) {
        ++b->printed;
        return true;
    }
    ++b->suppressed;
    return false;
}

std::string thread_name() {
    if (log_shard >= 0) {
        return "shard " + std::to_string(log_shard);
    }
    return log_shard == log_webhooks ? "webhooks" : log_shard == log_bridge ? "redis" : "main";
}

void write_line(log_level level, std::string_view message) noexcept {
    char stamp[96];
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    std::string line;
    try {
        if (line_format.load(std::memory_order_relaxed) == log_format::json) {
            std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                          utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                          ts.tv_nsec / 1'000'000);
            line = std::string("{\"time\":\"") + stamp + "\",\"level\":\"" + level_name(level) +
                   "\",\"thread\":";
            append_json_string(line, thread_name());
            line += ",\"message\":";
            append_json_string(line, message);
            line += "}\n";
        } else {
            std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03ld %-5s ", utc.tm_hour, utc.tm_min,
                          utc.tm_sec, ts.tv_nsec / 1'000'000, level_name(level));
            line = std::string(stamp) + "[" + thread_name() + "] ";
            line.append(message);
            line += '\n';
        }
    } catch (...) {
        return; // out of memory: a log line is not worth failing for
    }
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}
} // namespace

void set_log_options(log_level least, log_format format) noexcept {
    least_level.store(static_cast<int>(least), std::memory_order_relaxed);
    line_format.store(format, std::memory_order_relaxed);
}

bool log_enabled(log_level level) noexcept {
    return static_cast<int>(level) >= least_level.load(std::memory_order_relaxed);
}

void set_debug_filter(debug_filter f) {
    filter = std::move(f);
    filtering = !filter.app_id.empty() || !filter.channel_prefix.empty();
}

bool debug_filtered() noexcept {
    return filtering;
}

bool debug_shows(std::string_view app_id, std::string_view frame) noexcept {
    if (!filtering) {
        return true;
    }
    if (!filter.app_id.empty() && app_id != filter.app_id) {
        return false;
    }
    if (filter.channel_prefix.empty()) {
        return true;
    }
    constexpr std::string_view key = "\"channel\":\"";
    for (std::size_t at = frame.find(key); at != std::string_view::npos; at = frame.find(key, at + 1)) {
        if (frame.substr(at + key.size()).starts_with(filter.channel_prefix)) {
            return true;
        }
    }
    return false;
}

void set_log_shard(int shard) noexcept {
    log_shard = shard;
}

void log(log_level level, const char* fmt, ...) noexcept {
    unsigned long long carried = 0;
    if (level != log_level::debug && !admit(fmt, carried)) {
        return;
    }
    char message[4096];
    va_list args;
    va_start(args, fmt);
    int m = std::vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    std::size_t len = m < 0 ? 0 : std::min(static_cast<std::size_t>(m), sizeof message - 1);
    if (carried > 0) {
        int k = std::snprintf(message + len, sizeof message - len,
                              " (%llu more like this in the previous %llu s were not shown)", carried,
                              window_ms / 1000);
        len = k < 0 ? len : std::min(len + static_cast<std::size_t>(k), sizeof message - 1);
    }
    write_line(level, std::string_view(message, len));
}

} // namespace ringcast::core
