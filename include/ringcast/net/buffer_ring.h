// A provided-buffer ring: a pool of equal-sized receive buffers the kernel picks from when a
// multishot recv completes, so idle connections hold no receive memory at all. Each buffer is
// handed back (recycled) as soon as its bytes have been fed to the parsers.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <span>

namespace ringcast::net {

class buffer_ring {
public:
    // `count` must be a power of two (a kernel requirement for the ring's index mask).
    buffer_ring(io_uring* ring, std::uint16_t group, unsigned count, unsigned size);
    ~buffer_ring();
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    std::uint16_t group() const noexcept { return group_; }
    std::span<const char> data(unsigned id, unsigned length) const noexcept {
        return {base_ + static_cast<size_t>(id) * size_, length};
    }
    void recycle(unsigned id) noexcept;

private:
    io_uring* ring_;
    io_uring_buf_ring* br_ = nullptr;
    char* base_ = nullptr;
    std::uint16_t group_;
    unsigned count_;
    unsigned size_;
};

} // namespace ringcast::net
