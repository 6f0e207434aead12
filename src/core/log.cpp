// stderr logger: one write(2) per line so shards never interleave their output.
#include "ringcast/core/log.h"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace ringcast::core {

std::atomic<bool> debug_enabled{false};

namespace {
thread_local int log_shard = -1;

const char* level_name(log_level level) noexcept {
    switch (level) {
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info ";
    case log_level::warn:
        return "warn ";
    case log_level::error:
        return "error";
    }
    return "?";
}
} // namespace

void set_log_shard(int shard) noexcept {
    log_shard = shard;
}

void log(log_level level, const char* fmt, ...) noexcept {
    char line[4096];
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    int n;
    if (log_shard >= 0) {
        n = std::snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s [shard %d] ", utc.tm_hour, utc.tm_min,
                          utc.tm_sec, ts.tv_nsec / 1'000'000, level_name(level), log_shard);
    } else {
        n = std::snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s [%s] ", utc.tm_hour, utc.tm_min,
                          utc.tm_sec, ts.tv_nsec / 1'000'000, level_name(level),
                          log_shard == log_webhooks ? "webhooks" : "main");
    }
    va_list args;
    va_start(args, fmt);
    int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, args);
    va_end(args);
    size_t len = static_cast<size_t>(n) + static_cast<size_t>(m < 0 ? 0 : m);
    if (len > sizeof line - 2) {
        len = sizeof line - 2; // truncated: still end the line
    }
    line[len++] = '\n';
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line, len);
}

} // namespace ringcast::core
