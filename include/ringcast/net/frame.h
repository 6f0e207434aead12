// An immutable, reference-counted byte buffer: one encoded WebSocket frame (or HTTP response)
// that any number of connections, on any shard, queue for sending without copying it.
//
// The count is atomic because a broadcast frame is shared across shards; increments are relaxed
// (a holder already owns a reference) and the final decrement is acq_rel so the freeing thread
// sees every write made to the bytes before they were shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace ringcast::net {

class frame {
public:
    // Allocates a frame of `size` bytes for the caller to fill through data() before sharing it.
    static frame* allocate(std::uint32_t size) {
        void* p = std::malloc(sizeof(frame) + size);
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return new (p) frame(size);
    }
    static frame* copy_of(std::string_view bytes) {
        frame* f = allocate(static_cast<std::uint32_t>(bytes.size()));
        std::memcpy(f->data(), bytes.data(), bytes.size());
        return f;
    }

    char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
    const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
    std::uint32_t size() const noexcept { return size_; }
    std::string_view view() const noexcept { return {data(), size_}; }

    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            this->~frame();
            std::free(this);
        }
    }

private:
    explicit frame(std::uint32_t size) noexcept : size_(size) {}
    std::atomic<std::uint32_t> refs_{1};
    std::uint32_t size_;
};

// Owning handle to a frame.
class frame_ref {
public:
    frame_ref() noexcept = default;
    explicit frame_ref(frame* adopted) noexcept : f_(adopted) {}
    frame_ref(const frame_ref& o) noexcept : f_(o.f_) {
        if (f_ != nullptr) {
            f_->retain();
        }
    }
    frame_ref(frame_ref&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    frame_ref& operator=(frame_ref o) noexcept {
        std::swap(f_, o.f_);
        return *this;
    }
    ~frame_ref() {
        if (f_ != nullptr) {
            f_->release();
        }
    }
    frame* get() const noexcept { return f_; }
    frame* operator->() const noexcept { return f_; }
    frame& operator*() const noexcept { return *f_; }
    explicit operator bool() const noexcept { return f_ != nullptr; }
    // Gives up ownership without releasing (used when moving a reference through a queue).
    frame* leak() noexcept { return std::exchange(f_, nullptr); }

private:
    frame* f_ = nullptr;
};

} // namespace ringcast::net
