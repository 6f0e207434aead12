// Time sources: a monotonic clock for timeouts and latency, the wall clock for REST timestamps.
#pragma once

#include <cstdint>
#include <ctime>

namespace ringcast::core {

inline std::uint64_t monotonic_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

inline std::int64_t unix_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

} // namespace ringcast::core
