// A connection's outbound bytes: an ordered list of (frame, offset) references. Broadcast frames
// are shared, so queuing one costs a reference count, not a copy; everything queued during one
// loop iteration leaves in a single vectored send.
#pragma once

#include "ringcast/net/frame.h"

#include <sys/uio.h>

#include <cstdint>
#include <vector>

namespace ringcast::net {

class write_queue {
public:
    void push(frame_ref f) {
        if (f->size() == 0) {
            return;
        }
        pending_bytes_ += f->size();
        chunks_.push_back(chunk{f.leak(), 0});
    }

    bool empty() const noexcept { return head_ == chunks_.size(); }
    std::uint64_t pending_bytes() const noexcept { return pending_bytes_; }

    // Fills up to `max` iovecs from the front of the queue; returns how many were filled.
    unsigned fill(iovec* iov, unsigned max) const noexcept {
        unsigned n = 0;
        for (size_t i = head_; i < chunks_.size() && n < max; ++i, ++n) {
            const chunk& c = chunks_[i];
            iov[n].iov_base = const_cast<char*>(c.f->data()) + c.offset;
            iov[n].iov_len = c.f->size() - c.offset;
        }
        return n;
    }

    // Drops `sent` bytes from the front, releasing fully sent frames.
    void consume(std::uint64_t sent) noexcept {
        pending_bytes_ -= sent;
        while (sent > 0 && head_ < chunks_.size()) {
            chunk& c = chunks_[head_];
            std::uint64_t left = c.f->size() - c.offset;
            if (sent >= left) {
                sent -= left;
                c.f->release();
                ++head_;
            } else {
                c.offset += static_cast<std::uint32_t>(sent);
                sent = 0;
            }
        }
        compact();
    }

    // Drops every frame the kernel has not started on, keeping a partly sent head so the byte
    // stream stays a sequence of whole frames; returns the bytes dropped. Only valid while no
    // send is in flight (its iovecs point into these frames).
    std::uint64_t drop_unsent() noexcept {
        size_t keep = head_ < chunks_.size() && chunks_[head_].offset > 0 ? head_ + 1 : head_;
        std::uint64_t dropped = 0;
        for (size_t i = keep; i < chunks_.size(); ++i) {
            dropped += chunks_[i].f->size();
            chunks_[i].f->release();
        }
        chunks_.resize(keep);
        pending_bytes_ -= dropped;
        compact();
        return dropped;
    }

    void clear() noexcept {
        for (size_t i = head_; i < chunks_.size(); ++i) {
            chunks_[i].f->release();
        }
        chunks_.clear();
        chunks_.shrink_to_fit(); // an idle or dead connection should hold no queue memory
        head_ = 0;
        pending_bytes_ = 0;
    }

    ~write_queue() { clear(); }
    write_queue() = default;
    write_queue(const write_queue&) = delete;
    write_queue& operator=(const write_queue&) = delete;
    write_queue(write_queue&& o) noexcept
        : chunks_(std::move(o.chunks_)), head_(o.head_), pending_bytes_(o.pending_bytes_) {
        o.head_ = 0;
        o.pending_bytes_ = 0;
    }

private:
    struct chunk {
        frame* f;
        std::uint32_t offset;
    };

    void compact() noexcept {
        if (head_ == chunks_.size()) {
            chunks_.clear();
            head_ = 0;
            if (chunks_.capacity() > 64) {
                chunks_.shrink_to_fit(); // give back a burst's worth of slots once drained
            }
        } else if (head_ > 32 && head_ * 2 > chunks_.size()) {
            chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    std::vector<chunk> chunks_;
    size_t head_ = 0;
    std::uint64_t pending_bytes_ = 0;
};

} // namespace ringcast::net
