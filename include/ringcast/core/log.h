// Logging to stderr, one line per call, prefixed with time, level and the thread that wrote it
// (a shard, "main", "webhooks", "redis"). Lines are formatted into a local buffer and written with
// one write(2), so lines from different threads never interleave.
//
// Options, set once at start (--log-level, --log-format, --debug): the least level printed
// (info by default); plain text or one JSON object per line; and `debug` lines (every frame in
// and out), which are off unless --debug and may be limited to one app or a channel prefix
// (debug_filter below, applied by the Pusher layer where it logs frames).
//
// A flood cannot fill a disk: each call site (its format string) may print at most
// burst_lines lines per window_ms on each thread; what it would have printed beyond that is
// counted, and the count is printed with the call site's next line after the window ends.
// Debug lines are not limited: they are asked for, and limited by the filter instead.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

namespace ringcast::core {

enum class log_level { debug, info, warn, error };
enum class log_format { text, json };

// Set once at start from --debug; read by every shard.
extern std::atomic<bool> debug_enabled;

// The least level printed and the line format (set at start, before any thread but main runs).
void set_log_options(log_level least, log_format format) noexcept;
[[nodiscard]] bool log_enabled(log_level level) noexcept;

// --debug-app / --debug-channel: which frames the debug log shows ("" = all). Set at start.
struct debug_filter {
    std::string app_id;
    std::string channel_prefix;
};
void set_debug_filter(debug_filter filter);
// Whether a frame of app `app_id` whose JSON text is `frame` is shown. A channel prefix matches
// a frame that names a channel starting with it ("channel":"<prefix>..., the compact JSON that
// pusher-js, Laravel and ringcast write; channel names cannot contain quotes or backslashes).
[[nodiscard]] bool debug_shows(std::string_view app_id, std::string_view frame) noexcept;
// Whether a filter is set: debug lines that are not frames (HTTP requests) are shown only without.
[[nodiscard]] bool debug_filtered() noexcept;

// The rate limit of each call site, per thread.
inline constexpr unsigned burst_lines = 20;
inline constexpr unsigned long long window_ms = 10'000;

// The shard index this thread prints as ("main" when negative, "webhooks" for log_webhooks, "redis" for
// log_bridge). Set by each shard thread and by the webhook thread.
inline constexpr int log_webhooks = -2;
inline constexpr int log_bridge = -3;
void set_log_shard(int shard) noexcept;

[[gnu::format(printf, 2, 3)]] void log(log_level level, const char* fmt, ...) noexcept;

inline bool debugging() noexcept {
    return debug_enabled.load(std::memory_order_relaxed);
}

} // namespace ringcast::core

#define RC_LOG_DEBUG(...)                                                                                    \
    do {                                                                                                     \
        if (::ringcast::core::debugging()) {                                                                 \
            ::ringcast::core::log(::ringcast::core::log_level::debug, __VA_ARGS__);                          \
        }                                                                                                    \
    } while (0)
#define RC_LOG_AT(level, ...)                                                                                \
    do {                                                                                                     \
        if (::ringcast::core::log_enabled(level)) {                                                          \
            ::ringcast::core::log(level, __VA_ARGS__);                                                       \
        }                                                                                                    \
    } while (0)
#define RC_LOG_INFO(...) RC_LOG_AT(::ringcast::core::log_level::info, __VA_ARGS__)
#define RC_LOG_WARN(...) RC_LOG_AT(::ringcast::core::log_level::warn, __VA_ARGS__)
#define RC_LOG_ERROR(...) RC_LOG_AT(::ringcast::core::log_level::error, __VA_ARGS__)
