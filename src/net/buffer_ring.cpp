// Registration and recycling of the shard's receive buffers.
#include "ringcast/net/buffer_ring.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ringcast::net {

buffer_ring::buffer_ring(io_uring* ring, std::uint16_t group, unsigned count, unsigned size)
    : ring_(ring), group_(group), count_(count), size_(size) {
    int err = 0;
    br_ = io_uring_setup_buf_ring(ring_, count_, group_, 0, &err);
    if (br_ == nullptr) {
        throw std::runtime_error(std::string("cannot register the receive buffer ring: ") +
                                 std::strerror(-err));
    }
    base_ = static_cast<char*>(std::aligned_alloc(4096, static_cast<size_t>(count_) * size_));
    if (base_ == nullptr) {
        throw std::runtime_error("cannot allocate receive buffers");
    }
    for (unsigned i = 0; i < count_; ++i) {
        io_uring_buf_ring_add(br_, base_ + static_cast<size_t>(i) * size_, size_,
                              static_cast<unsigned short>(i), io_uring_buf_ring_mask(count_),
                              static_cast<int>(i));
    }
    io_uring_buf_ring_advance(br_, static_cast<int>(count_));
}

buffer_ring::~buffer_ring() {
    if (br_ != nullptr) {
        io_uring_free_buf_ring(ring_, br_, count_, group_);
    }
    std::free(base_);
}

void buffer_ring::recycle(unsigned id) noexcept {
    io_uring_buf_ring_add(br_, base_ + static_cast<size_t>(id) * size_, size_,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(br_, 1);
}

} // namespace ringcast::net
