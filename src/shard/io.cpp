// The socket side of a shard: arming accept, recv and the tick, handling their completions,
// and turning each connection's write queue into one (vectored) send.
#include "detail.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"

#include <fcntl.h>
#include <linux/tls.h>
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

void shard::arm_accept(unsigned listener_index) {
    io_uring_sqe* sqe = ring_->sqe();
    // Multishot: one SQE keeps producing a completion per accepted connection. The tag's slot
    // says which listener it came from.
    io_uring_prep_multishot_accept(sqe, listeners_[listener_index].fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, net::encode({net::op::accept, 0, listener_index}));
    accepting_[listener_index] = true;
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

void shard::on_accept(unsigned from, int res, bool more) {
    if (!more) {
        accepting_[from] = false;
    }
    if (res < 0) {
        if (res == -EMFILE || res == -ENFILE) {
            unsigned turned_away = shed_pending_connections(listeners_[from].fd);
            shed_count_ += turned_away;
            if (now_ms_ >= shed_logged_ms_ + shed_log_interval_ms) {
                RC_LOG_WARN("accept: %s: %llu connections answered 503 and closed since the last "
                            "report (raise the open-files limit)",
                            std::strerror(-res), static_cast<unsigned long long>(shed_count_));
                shed_logged_ms_ = now_ms_;
                shed_count_ = 0;
            }
            if (turned_away > 0 && !more && !stopping_) {
                arm_accept(from); // the backlog was answered: wait for the next connection now
            }
        } else if (res != -ECANCELED && !(stopping_ && res == -EINVAL)) {
            // (EINVAL while stopping is our own shutdown() of the listener ending the accept.)
            RC_LOG_WARN("accept: %s", std::strerror(-res));
        }
        return; // re-armed by the tick when the multishot ended
    }
    if (!more && !stopping_) {
        arm_accept(from);
    }
    (void)open_accepted(res, from);
}

bool shard::open_accepted(int fd, unsigned from) {
    if (goodbye_said_) {
        ::close(fd);
        return false;
    }
    std::unique_ptr<net::tls_server_session> tls;
    if (const net::tls_server_slot* slot = listeners_[from].tls) {
        if (handshakes_ >= options_.max_tls_handshakes) {
            // A flood of connections that never finish their handshake must not hold a shard's
            // memory and CPU; established sessions are not affected.
            RC_LOG_DEBUG("TLS: %u handshakes in progress, closing a new connection", handshakes_);
            metrics_.tls_refused.add();
            ::close(fd);
            return false;
        }
        tls = std::make_unique<net::tls_server_session>(slot->load(std::memory_order_acquire));
    }
    conn& c = allocate_conn(fd);
    c.listener = static_cast<std::uint8_t>(from);
    metrics_.accepted.add();
    if (tls) {
        c.tls = std::move(tls);
        c.handshaking = true;
        ++handshakes_;
        offer_kernel_tls(c);
    }
    arm_recv(c);
    guarded(c, "on_open", [&] { handler_->on_open(c); });
    if (stopping_) {
        finish_up(c); // accepted by the kernel before the listener was shut: served too
    }
    return true;
}

void shard::accept_waiting() {
    // The kernel has completed these handshakes already; shutting the listener down would reset
    // them, and one may be a publisher whose request is on its way.
    for (unsigned from = 0; from < listeners_.size(); ++from) {
        pollfd ready{listeners_[from].fd, POLLIN, 0};
        while (::poll(&ready, 1, 0) == 1 && (ready.revents & POLLIN) != 0) {
            int fd = ::accept4(ready.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                break;
            }
            (void)open_accepted(fd, from);
        }
    }
}

int shard::open_reserve_fd() noexcept {
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

unsigned shard::shed_pending_connections(int listen_fd) noexcept {
    // Out of descriptors, a connection would wait in the kernel's backlog with no answer until
    // its client gives up. The reserve descriptor makes room for one accept at a time: each
    // waiting client gets options_.busy_response ("busy, retry": pusher-js backs off) and is closed.
    unsigned shed = 0;
    for (; shed < max_shed_per_call; ++shed) {
        pollfd p{listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) {
            break; // nobody else is waiting
        }
        if (reserve_fd_ >= 0) {
            ::close(reserve_fd_);
        }
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
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
        metrics_.bytes_received.add(static_cast<std::uint64_t>(res));
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (c.st == conn::state::open && !c.failed && c.state) {
            std::string_view bytes(buffers_->data(bid, static_cast<unsigned>(res)).data(),
                                   static_cast<size_t>(res));
            if (c.tls) {
                on_tls_recv(c, bytes);
            } else {
                guarded(c, "on_data", [&] { c.state->on_data(bytes); });
            }
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
    bool session_output = op->session_output;
    if (res < 0) {
        if (c.st == conn::state::open) {
            close(c);
        }
        return;
    }
    metrics_.bytes_sent.add(static_cast<std::uint64_t>(res));
    if (c.st != conn::state::open) {
        return;
    }
    if (session_output) {
        c.tls->consume(static_cast<std::size_t>(res)); // the plaintext left the queue when encrypted
    } else {
        c.out.consume(static_cast<std::uint64_t>(res));
    }
    if (c.goodbye_due) {
        say_overload_goodbye(c); // overloaded while this send was in flight
    }
    // A short send means the peer's socket buffer is full: from now on the write budget counts.
    c.kernel_full = static_cast<std::uint64_t>(res) < op->bytes;
    if (c.kernel_full && !c.overloaded && c.out.pending_bytes() > options_.max_pending_write_bytes) {
        overload(c);
    }
    if (!c.out.empty() || c.close_after_flush ||
        (c.tls && (c.tls->has_output() || c.tls->kernel_switch_due()))) {
        mark_dirty(c);
    }
}

// ---------------------------------------------------------------------------------------------
// Output

shard::send_op* shard::take_send_op() {
    if (send_pool_.empty()) {
        return new send_op;
    }
    send_op* op = send_pool_.back();
    send_pool_.pop_back();
    return op;
}

void shard::submit_send(conn& c, send_op* op, unsigned iov_count, std::uint8_t record_type) {
    io_uring_sqe* sqe = ring_->sqe();
    // MSG_NOSIGNAL: a peer that vanished must give EPIPE, not kill the process.
    if (record_type != 0) {
        // Kernel TLS: a control message makes these bytes one record of OpenSSL's type (a
        // ticket, an alert) instead of application data.
        op->msg = msghdr{};
        op->msg.msg_iov = op->iov;
        op->msg.msg_iovlen = iov_count;
        op->msg.msg_control = op->control;
        op->msg.msg_controllen = sizeof op->control;
        cmsghdr* cm = CMSG_FIRSTHDR(&op->msg);
        cm->cmsg_level = SOL_TLS;
        cm->cmsg_type = TLS_SET_RECORD_TYPE;
        cm->cmsg_len = CMSG_LEN(1);
        *CMSG_DATA(cm) = record_type;
        io_uring_prep_sendmsg(sqe, c.fd, &op->msg, MSG_NOSIGNAL);
    } else if (iov_count == 1) {
        // The common case in a fan-out (one frame since the last send): a plain send spares
        // the kernel copying in a msghdr and its iovec, a measurable share of each delivery.
        io_uring_prep_send(sqe, c.fd, op->iov[0].iov_base, op->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        op->msg = msghdr{};
        op->msg.msg_iov = op->iov;
        op->msg.msg_iovlen = iov_count;
        io_uring_prep_sendmsg(sqe, c.fd, &op->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, net::encode({net::op::send, c.generation, c.slot}));
    c.sending = true;
    ++c.in_flight;
    c.send_state = op;
    metrics_.sends.add();
}

void shard::flush_writes() {
    for (size_t i = 0; i < dirty_.size(); ++i) {
        conn& c = *dirty_[i];
        c.dirty = false;
        if (c.st != conn::state::open || c.sending) {
            continue; // a send completion re-marks the conn
        }
        if (c.tls) {
            flush_tls(c);
            continue;
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
        send_queue(c);
    }
    dirty_.clear();
}

void shard::send_queue(conn& c) {
    send_op* op = take_send_op();
    unsigned n = c.out.fill(op->iov, max_iov);
    op->bytes = 0;
    op->session_output = false;
    for (unsigned k = 0; k < n; ++k) {
        op->bytes += op->iov[k].iov_len;
    }
    submit_send(c, op, n);
}

} // namespace ringcast::shard
