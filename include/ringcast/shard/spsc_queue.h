// A bounded single-producer/single-consumer queue of pointers: the only way data moves between
// shards. One queue exists per ordered pair of shards, so each end is touched by exactly one
// thread and no CAS is needed.
//
// head_ (consumer) and tail_ (producer) live on separate cache lines so the two cores do not
// fight over one line; each side caches the other's index and re-reads it (acquire) only when
// the queue looks full/empty, which keeps cross-core traffic to about one line per batch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast::shard {

template <typename T> class spsc_queue {
public:
    // `capacity` is rounded up to a power of two so indices wrap with a mask.
    explicit spsc_queue(std::size_t capacity) {
        std::size_t c = 2;
        while (c < capacity) {
            c <<= 1;
        }
        mask_ = c - 1;
        slots_ = std::make_unique<T*[]>(c);
    }

    // Producer side. Returns false when full (the caller keeps the item and retries later;
    // nothing is ever dropped).
    [[nodiscard]] bool push(T* item) noexcept {
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail - head_cache_ > mask_) {
                return false;
            }
        }
        slots_[tail & mask_] = item;
        // release: the slot write above becomes visible before the new tail.
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer side. Returns nullptr when empty.
    [[nodiscard]] T* pop() noexcept {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head == tail_cache_) {
                return nullptr;
            }
        }
        T* item = slots_[head & mask_];
        // release: the producer may reuse the slot only after we have read it.
        head_.store(head + 1, std::memory_order_release);
        return item;
    }

    // Consumer side: true if an item may be waiting (used to decide whether to sleep).
    [[nodiscard]] bool maybe_nonempty() const noexcept {
        return head_.load(std::memory_order_relaxed) != tail_.load(std::memory_order_acquire);
    }

    // Any thread: items queued and not yet popped (for metrics). relaxed reads of two indices
    // may be from slightly different moments, hence the guard.
    [[nodiscard]] std::size_t size_approx() const noexcept {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        return tail > head ? tail - head : 0;
    }

private:
    static constexpr std::size_t line = 64;
    alignas(line) std::atomic<std::size_t> head_{0};
    std::size_t tail_cache_ = 0; // consumer's view of tail_
    alignas(line) std::atomic<std::size_t> tail_{0};
    std::size_t head_cache_ = 0; // producer's view of head_
    alignas(line) std::size_t mask_ = 0;
    std::unique_ptr<T*[]> slots_;
};

} // namespace ringcast::shard
