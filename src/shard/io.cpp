// The socket side of a shard: arming accept, recv and the tick, handling their completions,
// and turning each connection's write queue into one (vectored) send.
#include "detail.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ringcast::shard {

using namespace detail;

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
// Completions

void shard::on_accept(int res, bool more) {
    if (!more) {
        accepting_ = false;
    }
    if (res < 0) {
        if (res == -EMFILE || res == -ENFILE) {
            unsigned turned_away = shed_pending_connections();
            shed_count_ += turned_away;
            if (now_ms_ >= shed_logged_ms_ + shed_log_interval_ms) {
                RC_LOG_WARN("accept: %s: %llu connections answered 503 and closed since the last "
                            "report (raise the open-files limit)",
                            std::strerror(-res), static_cast<unsigned long long>(shed_count_));
                shed_logged_ms_ = now_ms_;
                shed_count_ = 0;
            }
            if (turned_away > 0 && !more && !stopping_) {
                arm_accept(); // the backlog was answered: wait for the next connection now
            }
        } else if (res != -ECANCELED && !(stopping_ && res == -EINVAL)) {
            // (EINVAL while stopping is our own shutdown() of the listener ending the accept.)
            RC_LOG_WARN("accept: %s", std::strerror(-res));
        }
        return; // re-armed by the tick when the multishot ended
    }
    if (goodbye_said_) {
        ::close(res);
        return;
    }
    conn& c = allocate_conn(res);
    arm_recv(c);
    guarded(c, "on_open", [&] { handler_->on_open(c); });
    if (stopping_) {
        finish_up(c); // accepted by the kernel before the listener was shut: served too
    }
    if (!more && !stopping_) {
        arm_accept();
    }
}

void shard::accept_waiting() {
    // The kernel has completed these handshakes already; shutting the listener down would reset
    // them, and one may be a publisher whose request is on its way.
    pollfd ready{listen_fd_, POLLIN, 0};
    while (::poll(&ready, 1, 0) == 1 && (ready.revents & POLLIN) != 0) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        conn& c = allocate_conn(fd);
        arm_recv(c);
        guarded(c, "on_open", [&] { handler_->on_open(c); });
    }
}

int shard::open_reserve_fd() noexcept {
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

unsigned shard::shed_pending_connections() noexcept {
    // Out of descriptors, a connection would wait in the kernel's backlog with no answer until
    // its client gives up. The reserve descriptor makes room for one accept at a time: each
    // waiting client gets options_.busy_response ("busy, retry": pusher-js backs off) and is closed.
    unsigned shed = 0;
    for (; shed < max_shed_per_call; ++shed) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) {
            break; // nobody else is waiting
        }
        if (reserve_fd_ >= 0) {
            ::close(reserve_fd_);
        }
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            if (const net::frame_ref& busy = options_.busy_response) {
                (void)::send(fd, busy->data(), busy->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            // Read what the client already sent, so closing sends a FIN, not a reset that could
            // destroy the answer before it is read.
            char sink[4096];
            while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
            }
            ::shutdown(fd, SHUT_WR);
            ::close(fd);
        }
        reserve_fd_ = open_reserve_fd();
        if (fd < 0) {
            break;
        }
    }
    return shed;
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
    if (c.goodbye_due) {
        say_overload_goodbye(c); // overloaded while this send was in flight
    }
    // A short send means the peer's socket buffer is full: from now on the write budget counts.
    c.kernel_full = static_cast<std::uint64_t>(res) < op->bytes;
    if (c.kernel_full && !c.overloaded && c.out.pending_bytes() > options_.max_pending_write_bytes) {
        overload(c);
    }
    if (!c.out.empty() || c.close_after_flush) {
        mark_dirty(c);
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

} // namespace ringcast::shard
