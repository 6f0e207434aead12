// One io_uring instance, owned by one thread (the shard that created it).
//
// Created with SINGLE_ISSUER | DEFER_TASKRUN: only the owning thread submits, and the kernel runs
// completion work only when that thread enters the ring to wait. That removes the locking and the
// inter-processor interrupts the kernel otherwise needs, which matters at tens of thousands of
// sends per second; the price is that the ring must be created on the thread that uses it.
#pragma once

#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace ringcast::net {

class ring {
public:
    // Throws std::runtime_error with a clear message if the kernel lacks what we need.
    // `owner_only` selects SINGLE_ISSUER|DEFER_TASKRUN (shards); the main thread's small ring,
    // used only to send MSG_RING stop notices, is created without it.
    explicit ring(unsigned entries, bool owner_only = true);
    ~ring();
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;

    // Never returns null: when the submission queue is full it submits what is queued first.
    [[nodiscard]] io_uring_sqe* sqe() noexcept;
    int submit() noexcept { return io_uring_submit(&ring_); }
    int submit_and_wait(unsigned n) noexcept { return io_uring_submit_and_wait(&ring_, n); }
    io_uring* raw() noexcept { return &ring_; }

    // For the helper threads' loops (webhooks, the Redis bridge): submits what is queued, waits
    // up to `wait_ms` for a completion (0: only looks), then hands every ready completion's
    // user_data and result to `handle`. Throws std::runtime_error if the ring fails.
    template <typename F> void wait_and_handle(std::uint64_t wait_ms, F&& handle) {
        __kernel_timespec ts{};
        ts.tv_sec = static_cast<long long>(wait_ms / 1000);
        ts.tv_nsec = static_cast<long long>((wait_ms % 1000) * 1'000'000);
        io_uring_cqe* cqe = nullptr;
        // Always a timeout: a zero one polls (a null one would sleep until some completion).
        int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        if (rc < 0 && rc != -ETIME && rc != -EINTR) {
            throw_wait_error(rc);
        }
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            handle(cqe->user_data, cqe->res);
        }
        io_uring_cq_advance(&ring_, seen);
    }
    int fd() const noexcept { return ring_.ring_fd; }

private:
    [[noreturn]] static void throw_wait_error(int rc);
    io_uring ring_{};
};

// Checks, once at start, that the kernel supports every opcode and feature ringcast uses, and
// returns a message naming what is missing ("" when all is well).
[[nodiscard]] std::string probe_kernel();

} // namespace ringcast::net
