// Cross-shard mail: posting into the SPSC queues, waking the receiving rings with MSG_RING,
// draining what others sent, and the group that owns the queues.
#include "detail.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"

#include <memory>
#include <vector>

namespace ringcast::shard {

namespace {
// Mail slots per queue: a burst of 4096 publishes per iteration before we spill to overflow_.
constexpr std::size_t mailbox_capacity = 4096;
// Control mail from the main thread (reloads): a few at a time at most.
constexpr std::size_t control_capacity = 64;
} // namespace

void shard::post(unsigned target, std::unique_ptr<mail> m) {
    mail* raw = m.release();
    auto& spill = overflow_[target];
    if (!spill.empty() || !group_.queue(index_, target).push(raw)) {
        spill.push_back(raw); // keep order: once spilling, everything goes behind the spill
    }
    wake_[target] = true;
}

void shard::flush_mail() {
    std::size_t spilled = 0;
    for (unsigned t = 0; t < group_.endpoints(); ++t) {
        auto& spill = overflow_[t];
        size_t sent = 0;
        while (sent < spill.size() && group_.queue(index_, t).push(spill[sent])) {
            ++sent;
        }
        spill.erase(spill.begin(), spill.begin() + static_cast<std::ptrdiff_t>(sent));
        spilled += spill.size();
        if (!spill.empty()) {
            wake_[t] = true;
        }
        if (t == index_) {
            // Mail to ourselves needs no wake-up unless it is still queued when we go to sleep.
            wake_[t] = !spill.empty() || group_.queue(index_, index_).maybe_nonempty();
        }
        if (!wake_[t]) {
            continue;
        }
        wake_[t] = false;
        int fd = group_.ring_fd_of(t);
        if (fd < 0) {
            continue;
        }
        io_uring_sqe* sqe = ring_->sqe();
        // One wake-up per target per loop iteration, however many mails went out.
        io_uring_prep_msg_ring(sqe, fd, 0, net::encode({net::op::wake, 0, 0}), 0);
        // The sender needs no completion for a successful wake-up.
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, net::encode({net::op::msg_ring, 0, 0}));
    }
    metrics_.mail_spilled.set(spilled);
}

void shard::drain_mail() {
    // Not re-entrant: a mail handler that publishes must not deliver later mails before it
    // finishes, or two changes from one owner could reach subscribers out of order.
    if (draining_) {
        return;
    }
    draining_ = true;
    // Mail handlers may post more mail, to this shard too (a channel's owner can be the shard
    // itself); keep going until a full pass finds every queue empty.
    bool any = true;
    while (any) {
        any = false;
        for (unsigned from = 0; from < group_.endpoints(); ++from) {
            auto& q = group_.queue(from, index_);
            while (mail* m = q.pop()) {
                any = true;
                std::unique_ptr<mail> owned(m);
                // A throwing handler drops that mail (and says so); the rest carry on.
                guarded("a mail handler", [&] { handler_->on_mail(*owned); });
            }
        }
    }
    draining_ = false;
}

// ---------------------------------------------------------------------------------------------
// Group

shard_group::shard_group(unsigned count, bool with_bridge)
    : count_(count), bridge_(with_bridge), busy_shards_(count) {
    unsigned n = endpoints();
    queues_.reserve(static_cast<size_t>(n) * n);
    for (unsigned i = 0; i < n * n; ++i) {
        queues_.push_back(std::make_unique<spsc_queue<mail>>(mailbox_capacity));
    }
    for (unsigned i = 0; i < count; ++i) {
        control_.push_back(std::make_unique<spsc_queue<mail>>(control_capacity));
    }
}

shard_group::~shard_group() {
    for (auto& q : control_) {
        while (mail* m = q->pop()) {
            delete m;
        }
    }
    for (auto& q : queues_) {
        while (mail* m = q->pop()) {
            delete m;
        }
    }
}

int shard_group::ring_fd_of(unsigned to) noexcept {
    return to < count_ ? shards_[to]->ring_fd() : bridge_ring_fd();
}

void shard_group::mark_ready(bool ok) {
    if (!ok) {
        failed_.store(true);
    }
    ready_.fetch_add(1);
    ready_.notify_all();
}

bool shard_group::wait_ready() {
    unsigned seen = ready_.load();
    while (seen < count_) {
        ready_.wait(seen);
        seen = ready_.load();
    }
    return !failed_.load();
}

namespace {
// Sends one MSG_RING of kind `what` to every shard from a small ring owned by the caller.
void notify_all(std::vector<std::unique_ptr<shard>>& shards, net::op what) {
    net::ring main_ring(8, false);
    unsigned sent = 0;
    for (auto& s : shards) {
        int fd = s->ring_fd();
        if (fd < 0) {
            continue;
        }
        io_uring_sqe* sqe = main_ring.sqe();
        io_uring_prep_msg_ring(sqe, fd, 0, net::encode({what, 0, 0}), 0);
        io_uring_sqe_set_data64(sqe, 0);
        ++sent;
    }
    main_ring.submit_and_wait(sent);
}
} // namespace

std::size_t shard_group::mail_waiting(unsigned to) const noexcept {
    std::size_t n = 0;
    for (unsigned from = 0; from < endpoints(); ++from) {
        n += queues_[from * endpoints() + to]->size_approx();
    }
    return n;
}

void shard_group::stop_all() {
    notify_all(shards_, net::op::stop);
}

bool shard_group::control_all(const std::function<std::unique_ptr<mail>(unsigned)>& make) {
    bool all = true;
    for (unsigned i = 0; i < count_; ++i) {
        std::unique_ptr<mail> m = make(i);
        if (control_[i]->push(m.get())) {
            m.release();
        } else {
            all = false; // a shard has not taken the last ones yet (they are rare: reloads)
        }
    }
    notify_all(shards_, net::op::control);
    return all;
}

} // namespace ringcast::shard
