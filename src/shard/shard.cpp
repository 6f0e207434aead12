// The shard's event loop: completions in, frames out. See shard.h for ownership rules; the
// connection life cycle is in connections.cpp, the socket operations in io.cpp.
#include "detail.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ringcast::shard {

using namespace detail;

shard::shard(shard_group& group, unsigned index, options opts, std::vector<listener> listeners)
    : group_(group), index_(index), options_(std::move(opts)), listeners_(std::move(listeners)),
      accepting_(listeners_.size(), false), overflow_(group.endpoints()), wake_(group.endpoints(), false) {}

shard::~shard() {
    // The ring goes first, so no operation can still refer to a send_op or buffer freed below.
    buffers_.reset();
    ring_.reset();
    for (auto& c : conns_) {
        if (c->fd >= 0) {
            ::close(c->fd);
        }
    }
    for (send_op* op : send_pool_) {
        delete op;
    }
    if (reserve_fd_ >= 0) {
        ::close(reserve_fd_);
    }
    for (const listener& l : listeners_) {
        if (l.fd >= 0) {
            ::close(l.fd);
        }
    }
}

unsigned shard::count() const noexcept {
    return group_.count();
}

int shard::bridge() const noexcept {
    // No ring, no bridge (not started, or gone): mail for it would only pile up.
    return group_.has_bridge() && group_.bridge_ring_fd() >= 0 ? static_cast<int>(group_.count()) : -1;
}

conn* shard::find(conn_id id) noexcept {
    if (id.slot >= conns_.size()) {
        return nullptr;
    }
    conn* c = conns_[id.slot].get();
    return (c->generation == id.generation && c->st == conn::state::open) ? c : nullptr;
}

void shard::handle_cqe(io_uring_cqe* cqe) {
    net::tag t = net::decode(io_uring_cqe_get_data64(cqe));
    switch (t.kind) {
    case net::op::accept:
        on_accept(t.slot, cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0);
        return;
    case net::op::recv:
    case net::op::send: {
        conn& c = *conns_[t.slot];
        if (t.kind == net::op::recv) {
            if (c.generation != t.generation) {
                // Cannot happen (slots are freed only after their last completion) but a stray
                // buffer must still go back to the ring.
                if (cqe->flags & IORING_CQE_F_BUFFER) {
                    buffers_->recycle(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                }
                return;
            }
            on_recv(c, cqe);
        } else {
            on_send(c, cqe->res, static_cast<send_op*>(std::exchange(c.send_state, nullptr)));
        }
        return;
    }
    case net::op::tick:
        if (cqe->res == -ETIME) {
            on_tick();
            arm_tick();
        }
        return;
    case net::op::wake:
        // The mail is drained at the top of the loop, after this whole batch: send completions
        // in the same batch first free the write budget the new frames will need.
        return;
    case net::op::stop:
        begin_shutdown();
        return;
    case net::op::control:
        while (mail* m = group_.control(index_).pop()) {
            std::unique_ptr<mail> owned(m);
            guarded("control mail", [&] { handler_->on_mail(*owned); });
        }
        return;
    default:
        return;
    }
}

// ---------------------------------------------------------------------------------------------
// Loop

void shard::begin_shutdown() {
    if (stopping_) {
        return;
    }
    accept_waiting();
    stopping_ = true;
    stop_deadline_ms_ = now_ms_ + finish_requests_ms;
    for (const listener& l : listeners_) {
        ::shutdown(l.fd, SHUT_RD); // ends the multishot accept
    }
    for (auto& c : conns_) {
        finish_up(*c);
    }
}

void shard::finish_up(conn& c) {
    if (c.st == conn::state::open && !c.failed && c.state && !c.finishing) {
        bool busy = false;
        guarded(c, "on_finish_up", [&] { busy = c.state->on_finish_up(); });
        if (busy && c.st == conn::state::open) {
            c.finishing = true;
            ++finishing_count_;
        }
    }
}

void shard::advance_shutdown() {
    if (goodbye_said_) {
        return;
    }
    bool spilled = std::any_of(overflow_.begin(), overflow_.end(), [](const auto& v) { return !v.empty(); });
    // Reported only once this shard's last publish is in the other shards' queues (not still
    // spilled here), so a shard that sees the count reach 0 finds it when it drains its mail.
    if (!requests_reported_ && finishing_count_ == 0 && !spilled) {
        requests_reported_ = true;
        if (group_.report_requests_done()) {
            for (unsigned t = 0; t < group_.count(); ++t) {
                wake_[t] = t != index_; // sent by flush_mail, this iteration
            }
        }
    }
    if (group_.requests_done() || now_ms_ >= stop_deadline_ms_) {
        say_goodbye();
    }
}

void shard::say_goodbye() {
    goodbye_said_ = true;
    stop_deadline_ms_ = now_ms_ + close_grace_ms;
    drain_mail(); // the last publishes reach these subscribers before the goodbye does
    for (auto& c : conns_) {
        if (c->st == conn::state::open && !c->failed && c->state) {
            guarded(*c, "on_shutdown", [&] { c->state->on_shutdown(); });
        }
    }
}

bool shard::shutdown_done() const noexcept {
    return goodbye_said_ && ((open_count_ == 0 && closing_.empty()) || now_ms_ >= stop_deadline_ms_);
}

void shard::run() {
    core::set_log_shard(static_cast<int>(index_));
    try {
        ring_ = std::make_unique<net::ring>(ring_entries);
        buffers_ = std::make_unique<net::buffer_ring>(ring_->raw(), recv_buffer_group, recv_buffer_count,
                                                      recv_buffer_size);
    } catch (const std::exception& e) {
        RC_LOG_ERROR("%s", e.what());
        group_.mark_ready(false);
        return;
    }
    ring_fd_.store(ring_->fd(), std::memory_order_release);
    if (clockid_t cpu; pthread_getcpuclockid(pthread_self(), &cpu) == 0) {
        metrics_.cpu_clock.store(cpu, std::memory_order_release); // for the scrape's utilisation
    }
    reserve_fd_ = open_reserve_fd();
    now_ms_ = core::monotonic_ms();
    wheel_now_s_ = static_cast<std::uint32_t>(now_ms_ / 1000);
    for (unsigned i = 0; i < listeners_.size(); ++i) {
        arm_accept(i);
    }
    arm_tick();
    group_.mark_ready(true);

    while (true) {
        if (stopping_) {
            advance_shutdown();
        }
        drain_mail();
        // Wake-ups first: their MSG_RING entries then precede this iteration's sends in the
        // submission queue, so other shards start their share of a fan-out while this one is
        // still sending its own.
        flush_mail();
        flush_writes();
        if (stopping_ && shutdown_done()) {
            break;
        }
        int rc = ring_->submit_and_wait(1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            RC_LOG_ERROR("io_uring_submit_and_wait: %s", std::strerror(-rc));
            break;
        }
        now_ms_ = core::monotonic_ms();
        io_uring_cqe* cqe;
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(ring_->raw(), head, cqe) {
            handle_cqe(cqe);
            if (++seen == max_cqes_per_iteration) {
                break; // the rest after this slice's mail and writes have gone out
            }
        }
        io_uring_cq_advance(ring_->raw(), seen);
        finish_closes();
    }
    // What the last iteration queued is still unsubmitted: among it, when this shard finished
    // its requests last, the wake-ups that let the others say goodbye now rather than at their
    // next tick.
    ring_->submit();
    RC_LOG_DEBUG("shard stopped");
}

} // namespace ringcast::shard
