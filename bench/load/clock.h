// Time sources shared by the publisher and the receivers: both run in this process (or on this
// machine), so CLOCK_MONOTONIC nanoseconds written into an event can be compared on arrival.
// Also the two ring calls every bench loop makes: take a submission slot, and wait with a timeout.
#pragma once

#include <cstdint>
#include <ctime>
#include <liburing.h>

namespace ringcast::bench {

[[nodiscard]] inline std::uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Unix seconds, for the HTTP API's auth_timestamp (the server checks it against its wall clock).
[[nodiscard]] inline std::uint64_t unix_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec);
}

// A free submission slot; when the queue is full, hands what is queued to the kernel first.
[[nodiscard]] inline io_uring_sqe* next_sqe(io_uring& ring) noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    while (s == nullptr) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

// Submits what is queued and waits for one completion or `ns` nanoseconds, whichever comes
// first: the one wait of every bench loop (receivers, publisher, ceiling sender).
inline void submit_and_wait_ns(io_uring& ring, std::uint64_t ns) noexcept {
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(ns / 1'000'000'000ULL);
    ts.tv_nsec = static_cast<long long>(ns % 1'000'000'000ULL);
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring, &first, 1, &ts, nullptr);
}

} // namespace ringcast::bench
