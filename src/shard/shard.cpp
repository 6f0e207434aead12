// The shard's event loop: completions in, frames out. See shard.h for ownership rules.
#include "ringcast/shard/shard.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"
#include "ringcast/net/listener.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace ringcast::shard {

namespace {
// Submission queue depth: enough for a burst of sends across many connections per iteration
// without forcing an early submit; the CQ is 4x this (see ring.cpp).
constexpr unsigned ring_entries = 4096;
// Receive buffers: 512 x 4 KiB = 2 MiB per shard, shared by all its connections (idle ones
// hold none). Client messages are small (pings, subscribes, whispers); a rare 10 KB one simply
// arrives in a few completions, which the incremental parsers take in stride. Smaller buffers
// keep the pages the ring cycles through, and so the server's resident memory, small.
constexpr unsigned recv_buffer_count = 512;
constexpr unsigned recv_buffer_size = 4 * 1024;

constexpr std::uint16_t recv_buffer_group = 0;
// Frames per vectored send. Beyond ~64 the kernel's per-iovec cost dominates and a connection
// this far behind is better served by the next send.
constexpr unsigned max_iov = 64;
// How long a graceful close waits for a peer that has stopped reading.
constexpr std::uint64_t close_grace_ms = 2000;
// How far past its write budget a connection may queue while the kernel still accepts all we
// send it (see shard::send).
constexpr std::uint64_t burst_factor = 4;
} // namespace

struct shard::send_op {
    msghdr msg{};
    iovec iov[max_iov];
    std::uint64_t bytes = 0; // what this send offered the kernel
};

shard::shard(shard_group& group, unsigned index, options opts, int listen_fd)
    : group_(group), index_(index), options_(std::move(opts)), listen_fd_(listen_fd),
      overflow_(group.count()), wake_(group.count(), false) {}

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
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
    }
}

unsigned shard::count() const noexcept {
    return group_.count();
}

conn* shard::find(conn_id id) noexcept {
    if (id.slot >= conns_.size()) {
        return nullptr;
    }
    conn* c = conns_[id.slot].get();
    return (c->generation == id.generation && c->st == conn::state::open) ? c : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Submissions

void shard::arm_accept() {
    io_uring_sqe* sqe = ring_->sqe();
    // Multishot: one SQE keeps producing a completion per accepted connection.
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, net::encode({net::op::accept, 0, 0}));
    accepting_ = true;
}

void shard::arm_recv(conn& c) {
    io_uring_sqe* sqe = ring_->sqe();
    // Multishot recv with buffer selection: the kernel picks a buffer from our ring only when
    // data arrives, so an idle connection costs no receive memory.
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = recv_buffer_group;
    io_uring_sqe_set_data64(sqe, net::encode({net::op::recv, c.generation, c.slot}));
    ++c.in_flight;
}

void shard::arm_tick() {
    tick_.tv_sec = 1;
    tick_.tv_nsec = 0;
    io_uring_sqe* sqe = ring_->sqe();
    // A plain relative timeout, re-armed on expiry: one-second resolution is all liveness and
    // handshake timeouts need.
    io_uring_prep_timeout(sqe, &tick_, 0, 0);
    io_uring_sqe_set_data64(sqe, net::encode({net::op::tick, 0, 0}));
}

// ---------------------------------------------------------------------------------------------
// Handler calls (the exception rule at the top of shard.h)

template <typename Call> void shard::guarded(conn& c, const char* what, Call&& call) noexcept {
    try {
        call();
    } catch (const std::exception& e) {
        fail(c, what, e.what());
    } catch (...) {
        fail(c, what, "an exception that is not a std::exception");
    }
}

void shard::fail(conn& c, const char* what, const char* why) noexcept {
    RC_LOG_ERROR("connection %u: %s threw: %s; closing that connection, the shard carries on", c.slot, what,
                 why);
    if (c.st != conn::state::open || c.failed) {
        return;
    }
    c.failed = true;
    if (c.state) {
        guarded("on_failure", [&] { c.state->on_failure(); });
    }
    close_gracefully(c);
}

template <typename Call> void shard::guarded(const char* what, Call&& call) noexcept {
    try {
        call();
    } catch (const std::exception& e) {
        RC_LOG_ERROR("%s threw: %s; the shard carries on", what, e.what());
    } catch (...) {
        RC_LOG_ERROR("%s threw an exception that is not a std::exception; the shard carries on", what);
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

conn& shard::allocate_conn(int fd) {
    conn* c;
    if (!free_slots_.empty()) {
        c = conns_[free_slots_.back()].get();
        free_slots_.pop_back();
    } else {
        conns_.push_back(std::make_unique<conn>());
        c = conns_.back().get();
        c->slot = static_cast<std::uint32_t>(conns_.size() - 1);
    }
    c->fd = fd;
    c->st = conn::state::open;
    c->sending = c->dirty = c->close_after_flush = c->write_shut = c->overloaded = c->close_reported = false;
    c->kernel_full = false;
    c->failed = false;
    c->in_flight = 0;
    c->timer_due_s = 0;
    c->force_close_ms = 0;
    c->state.reset();
    ++open_count_;
    return *c;
}

void shard::send(conn& c, net::frame_ref f) {
    if (c.st != conn::state::open || c.overloaded || c.close_after_flush) {
        return;
    }
    // The budget bounds what a peer that stopped reading can make us hold. Bytes queued while
    // the kernel still takes everything we offer are only waiting for this iteration's flush
    // (a burst of mail can queue more than the budget in one go for a reader that keeps up),
    // so they count only past a hard cap; once the kernel has refused part of a send, the
    // budget itself applies.
    std::uint64_t after = c.out.pending_bytes() + f->size();
    std::uint64_t budget = options_.max_pending_write_bytes;
    if (after > (c.kernel_full ? budget : burst_factor * budget)) {
        overload(c);
        return;
    }
    c.out.push(std::move(f));
    mark_dirty(c);
}

void shard::overload(conn& c) {
    // A slow consumer: tell it to come back later rather than grow without bound. The close
    // frame goes past the budget; if it cannot be delivered either, the grace timer closes the
    // socket.
    RC_LOG_WARN("connection %u: %llu bytes unsent, closing as a slow consumer", c.slot,
                static_cast<unsigned long long>(c.out.pending_bytes()));
    c.overloaded = true;
    if (options_.overload_frame) {
        c.out.push(options_.overload_frame);
    }
    close_gracefully(c);
}

void shard::mark_dirty(conn& c) {
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(&c);
    }
}

void shard::close_gracefully(conn& c) {
    if (c.st != conn::state::open || c.close_after_flush) {
        return;
    }
    c.close_after_flush = true;
    c.force_close_ms = now_ms_ + close_grace_ms;
    set_timer(c, c.force_close_ms);
    mark_dirty(c);
}

void shard::close(conn& c) {
    if (c.st != conn::state::open) {
        return;
    }
    c.st = conn::state::closing;
    --open_count_;
    // shutdown() ends the multishot recv (it completes with 0) and fails an in-flight send, so
    // every outstanding operation completes promptly; the fd itself is closed only when the
    // last of them has, so a completion never refers to a recycled descriptor. A peer that
    // closed first has usually ended the recv already: then nothing is outstanding and the
    // syscall would only fail with ENOTCONN.
    if (c.in_flight != 0) {
        ::shutdown(c.fd, SHUT_RDWR);
    }
    closing_.push_back(&c);
}

void shard::finish_closes() {
    // Runs after each completion batch, outside any handler call: on_closed and the states'
    // destructors may free the session whose code asked for the close.
    retired_.clear();
    for (size_t i = 0; i < closing_.size(); ++i) {
        conn& c = *closing_[i];
        if (!c.close_reported) {
            c.close_reported = true;
            if (c.state) {
                guarded("on_closed", [&] { c.state->on_closed(); });
                c.state.reset();
            }
        }
        if (!c.sending) {
            c.out.clear();
        }
        if (c.in_flight == 0) {
            release_slot(c);
            closing_[i] = closing_.back();
            closing_.pop_back();
            --i;
        }
    }
}

void shard::replace_state(conn& c, std::unique_ptr<conn_state> next) {
    retired_.push_back(std::move(c.state));
    c.state = std::move(next);
}

void shard::release_slot(conn& c) {
    ::close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.st = conn::state::free;
    c.generation = (c.generation + 1) & net::generation_mask;
    free_slots_.push_back(c.slot);
}

void shard::set_timer(conn& c, std::uint64_t due_ms) {
    auto due_s = static_cast<std::uint32_t>((due_ms + 999) / 1000);
    if (due_s <= wheel_now_s_) {
        due_s = wheel_now_s_ + 1;
    }
    if (c.timer_due_s != 0 && c.timer_due_s <= due_s) {
        return; // an earlier expiry is already queued; the handler re-arms from there
    }
    c.timer_due_s = due_s;
    wheel_[due_s % wheel_size].push_back({c.slot, c.generation, due_s});
}

// ---------------------------------------------------------------------------------------------
// Completions

void shard::on_accept(int res, bool more) {
    if (!more) {
        accepting_ = false;
    }
    if (res < 0) {
        if (res == -EMFILE || res == -ENFILE) {
            RC_LOG_WARN("accept: %s (raise the open-files limit); retrying next tick", std::strerror(-res));
        } else if (res != -ECANCELED) {
            RC_LOG_WARN("accept: %s", std::strerror(-res));
        }
        return; // re-armed by the tick when the multishot ended
    }
    if (stopping_) {
        ::close(res);
        return;
    }
    conn& c = allocate_conn(res);
    arm_recv(c);
    guarded(c, "on_open", [&] { handler_->on_open(c); });
    if (!more && !stopping_) {
        arm_accept();
    }
}

void shard::on_recv(conn& c, io_uring_cqe* cqe) {
    int res = cqe->res;
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        --c.in_flight;
    }
    if (res > 0) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (c.st == conn::state::open && !c.failed && c.state) {
            std::string_view bytes(buffers_->data(bid, static_cast<unsigned>(res)).data(),
                                   static_cast<size_t>(res));
            guarded(c, "on_data", [&] { c.state->on_data(bytes); });
        }
        buffers_->recycle(bid);
        if (!more && c.st == conn::state::open) {
            arm_recv(c);
        }
        return;
    }
    if (res == -ENOBUFS) {
        // All receive buffers are in use: flow control, not an error. They are recycled as
        // soon as their completions are handled, so re-arming now is enough.
        if (!more && c.st == conn::state::open) {
            arm_recv(c);
        }
        return;
    }
    // 0 = peer closed; negative = reset or our own shutdown.
    close(c);
}

void shard::on_send(conn& c, int res, send_op* op) {
    --c.in_flight;
    c.sending = false;
    send_pool_.push_back(op);
    if (res < 0) {
        if (c.st == conn::state::open) {
            close(c);
        }
        return;
    }
    if (c.st != conn::state::open) {
        return;
    }
    c.out.consume(static_cast<std::uint64_t>(res));
    // A short send means the peer's socket buffer is full: from now on the write budget counts.
    c.kernel_full = static_cast<std::uint64_t>(res) < op->bytes;
    if (c.kernel_full && !c.overloaded && c.out.pending_bytes() > options_.max_pending_write_bytes) {
        overload(c);
    }
    if (!c.out.empty() || c.close_after_flush) {
        mark_dirty(c);
    }
}

void shard::on_tick() {
    auto now_s = static_cast<std::uint32_t>(now_ms_ / 1000);
    while (wheel_now_s_ < now_s) {
        ++wheel_now_s_;
        std::vector<wheel_entry> due;
        due.swap(wheel_[wheel_now_s_ % wheel_size]);
        for (const wheel_entry& e : due) {
            if (e.due_s > wheel_now_s_) {
                wheel_[e.due_s % wheel_size].push_back(e); // lapped: not yet
                continue;
            }
            conn* c = e.slot < conns_.size() ? conns_[e.slot].get() : nullptr;
            if (c == nullptr || c->generation != e.generation || c->st != conn::state::open ||
                c->timer_due_s != e.due_s) {
                continue; // stale entry: the conn is gone or was re-queued earlier
            }
            c->timer_due_s = 0;
            if (c->close_after_flush && now_ms_ >= c->force_close_ms) {
                close(*c); // the peer stopped reading our goodbye
            } else if (c->close_after_flush) {
                set_timer(*c, c->force_close_ms);
            } else if (!c->failed && c->state) {
                guarded(*c, "on_timer", [&] { c->state->on_timer(); });
            }
        }
    }
    if (!accepting_ && !stopping_) {
        arm_accept();
    }
    guarded("on_tick", [&] { handler_->on_tick(); });
}

void shard::handle_cqe(io_uring_cqe* cqe) {
    net::tag t = net::decode(io_uring_cqe_get_data64(cqe));
    switch (t.kind) {
    case net::op::accept:
        on_accept(cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0);
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
// Output

void shard::flush_writes() {
    for (size_t i = 0; i < dirty_.size(); ++i) {
        conn& c = *dirty_[i];
        c.dirty = false;
        if (c.st != conn::state::open || c.sending) {
            continue; // a send completion re-marks the conn
        }
        if (c.out.empty()) {
            if (c.close_after_flush && !c.write_shut) {
                // Lingering close: send our FIN but keep reading (and discarding) until the peer
                // closes too or the grace timer fires. Closing with unread input would make the
                // kernel send a reset, which can destroy the error response or close frame we
                // just sent before the peer reads it.
                c.write_shut = true;
                ::shutdown(c.fd, SHUT_WR);
            }
            continue;
        }
        send_op* op;
        if (send_pool_.empty()) {
            op = new send_op;
        } else {
            op = send_pool_.back();
            send_pool_.pop_back();
        }
        unsigned n = c.out.fill(op->iov, max_iov);
        op->bytes = 0;
        for (unsigned k = 0; k < n; ++k) {
            op->bytes += op->iov[k].iov_len;
        }
        io_uring_sqe* sqe = ring_->sqe();
        // MSG_NOSIGNAL: a peer that vanished must give EPIPE, not kill the process.
        if (n == 1) {
            // The common case in a fan-out (one frame since the last send): a plain send spares
            // the kernel copying in a msghdr and its iovec, a measurable share of each delivery.
            io_uring_prep_send(sqe, c.fd, op->iov[0].iov_base, op->iov[0].iov_len, MSG_NOSIGNAL);
        } else {
            op->msg = msghdr{};
            op->msg.msg_iov = op->iov;
            op->msg.msg_iovlen = n;
            io_uring_prep_sendmsg(sqe, c.fd, &op->msg, MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(sqe, net::encode({net::op::send, c.generation, c.slot}));
        c.sending = true;
        ++c.in_flight;
        c.send_state = op;
    }
    dirty_.clear();
}

// ---------------------------------------------------------------------------------------------
// Loop

void shard::begin_shutdown() {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    stop_deadline_ms_ = now_ms_ + close_grace_ms;
    ::shutdown(listen_fd_, SHUT_RD); // ends the multishot accept
    for (auto& c : conns_) {
        if (c->st == conn::state::open && !c->failed && c->state) {
            guarded(*c, "on_shutdown", [&] { c->state->on_shutdown(); });
        }
    }
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
    now_ms_ = core::monotonic_ms();
    wheel_now_s_ = static_cast<std::uint32_t>(now_ms_ / 1000);
    arm_accept();
    arm_tick();
    group_.mark_ready(true);

    while (true) {
        drain_mail();
        // Wake-ups first: their MSG_RING entries then precede this iteration's sends in the
        // submission queue, so other shards start their share of a fan-out while this one is
        // still sending its own.
        flush_mail();
        flush_writes();
        if (stopping_ && (open_count_ == 0 && closing_.empty())) {
            break;
        }
        if (stopping_ && now_ms_ >= stop_deadline_ms_) {
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
            ++seen;
        }
        io_uring_cq_advance(ring_->raw(), seen);
        finish_closes();
    }
    RC_LOG_DEBUG("shard stopped");
}

} // namespace ringcast::shard
