// Logging to stderr, one line per call, prefixed with time, level and the shard that wrote it.
// Lines are formatted into a local buffer and written with one write(2), so lines from different
// shards never interleave. `debug` lines (every frame in and out) are off unless --debug.
#pragma once

#include <atomic>

namespace ringcast::core {

enum class log_level { debug, info, warn, error };

// Set once at start from --debug; read by every shard.
extern std::atomic<bool> debug_enabled;

// The shard index this thread prints as ("main" when negative, "webhooks" for log_webhooks).
// Set by each shard thread and by the webhook thread.
inline constexpr int log_webhooks = -2;
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
#define RC_LOG_INFO(...) ::ringcast::core::log(::ringcast::core::log_level::info, __VA_ARGS__)
#define RC_LOG_WARN(...) ::ringcast::core::log(::ringcast::core::log_level::warn, __VA_ARGS__)
#define RC_LOG_ERROR(...) ::ringcast::core::log(::ringcast::core::log_level::error, __VA_ARGS__)
