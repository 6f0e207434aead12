// TLS connections: what the socket receives goes through the connection's tls_server_session
// before its conn_state sees it, and what is queued for it is encrypted in one batch right
// before each send, or sent as it is once the kernel encrypts (see shard.h, tls_server.h).
#include "detail.h"

#include "ringcast/core/log.h"
#include "ringcast/net/kernel_tls.h"

#include <sys/socket.h>

#include <cstring>

namespace ringcast::shard {

using namespace detail;

void shard::on_tls_recv(conn& c, std::string_view cipher) {
    net::tls_server_session& t = *c.tls;
    tls_plain_.clear();
    net::tls_server_session::result r = t.receive(cipher, tls_plain_);
    if (c.handshaking && t.established()) {
        end_handshake(c);
        metrics_.tls_handshakes.add();
        // By now OpenSSL has handed its sending keys over if it is going to (with its Finished).
        bool fallback = !t.kernel_send() && t.context().kernel_tls().usable();
        if (fallback) {
            metrics_.tls_kernel_fallbacks.add();
        }
        if (!core::debug_filtered()) {
            RC_LOG_DEBUG("connection %u: TLS established (%s; %s)", c.slot, t.describe().c_str(),
                         t.kernel_send() ? "kernel TLS"
                         : fallback      ? "encryption in user space: the kernel cannot take this one"
                                         : "encryption in user space");
        }
    }
    if (t.has_output() || t.kernel_switch_due()) {
        mark_dirty(c); // handshake records, or an alert
    }
    if (!tls_plain_.empty()) {
        guarded(c, "on_data", [&] { c.state->on_data(tls_plain_); });
    }
    if (r == net::tls_server_session::result::closed) {
        close_gracefully(c); // their close_notify: ours goes back, then our FIN
    } else if (r == net::tls_server_session::result::failed) {
        on_tls_failure(c);
    }
}

void shard::on_tls_failure(conn& c) {
    net::tls_server_session& t = *c.tls;
    // Scanners and broken clients are routine on a public port: one line per second at most,
    // with the count of those not shown.
    ++tls_failures_;
    metrics_.tls_failures.add();
    if (now_ms_ >= tls_failure_logged_ms_ + tls_failure_log_interval_ms) {
        RC_LOG_WARN("TLS: closing connection %u: %s%s (%llu TLS failures since the last report)", c.slot,
                    t.error().c_str(), t.plain_http() ? " (plain HTTP sent to the TLS port)" : "",
                    static_cast<unsigned long long>(tls_failures_));
        tls_failure_logged_ms_ = now_ms_;
        tls_failures_ = 0;
    }
    if (t.plain_http() && options_.plain_http_response) {
        t.replace_output(options_.plain_http_response->view());
    }
    c.failed = true; // no more input or timers for it: only its alert (or answer) leaves
    c.out.drop_unsent();
    close_gracefully(c);
}

void shard::end_handshake(conn& c) noexcept {
    if (c.handshaking) {
        c.handshaking = false;
        --handshakes_;
    }
}

void shard::offer_kernel_tls(conn& c) {
    const net::kernel_tls_support& kernel = c.tls->context().kernel_tls();
    if (!kernel.usable()) {
        return; // the banner said why, once
    }
    // Attached at accept, before a byte is sent: the layer passes bytes untouched until it has
    // keys, and attaching later would be a syscall in the middle of the handshake's sends.
    if (int e = net::attach_kernel_tls(c.fd); e != 0) {
        RC_LOG_DEBUG("connection %u: no kernel TLS (%s): encryption in user space", c.slot, std::strerror(e));
        return; // counted as a fallback once established
    }
    c.tls->offer_kernel_send(kernel.ciphers);
}

bool shard::start_kernel_tls(conn& c) {
    if (c.tls->start_kernel_send(c.fd) != 0) {
        // Rare: the start-up probe found the cipher accepted. OpenSSL writes plaintext by now,
        // so the connection cannot go on in user space either.
        RC_LOG_WARN("TLS: closing connection %u: %s", c.slot, c.tls->error().c_str());
        metrics_.tls_failures.add();
        close(c);
        return false;
    }
    metrics_.tls_kernel.add();
    return true;
}

void shard::send_tls_output(conn& c) {
    net::tls_server_session& t = *c.tls;
    std::string_view bytes = t.next_output();
    send_op* op = take_send_op();
    op->iov[0].iov_base = const_cast<char*>(bytes.data());
    op->iov[0].iov_len = bytes.size();
    op->bytes = bytes.size();
    op->session_output = true;
    submit_send(c, op, 1, t.next_record_type());
}

void shard::flush_kernel_tls(conn& c) {
    net::tls_server_session& t = *c.tls;
    if (t.has_output()) {
        send_tls_output(c); // ours before the kernel's, OpenSSL's records before the frames
        return;
    }
    if (!t.kernel_on()) {
        return; // the keys wait for output still in flight
    }
    if (!c.out.empty() && !t.broken()) {
        send_queue(c); // the shared frames themselves: the kernel encrypts as it sends
        return;
    }
    if (c.close_after_flush && !c.write_shut) {
        t.close_notify(); // a record for the kernel, sent on the next turn
        if (t.has_output()) {
            send_tls_output(c);
            return;
        }
        c.write_shut = true;
        ::shutdown(c.fd, SHUT_WR);
    }
}

void shard::flush_tls(conn& c) {
    net::tls_server_session& t = *c.tls;
    if (t.kernel_switch_due() && !start_kernel_tls(c)) {
        return;
    }
    if (t.kernel_send()) {
        flush_kernel_tls(c);
        return;
    }
    if (!t.has_output() && t.established() && !t.broken() && !c.out.empty()) {
        send_op* op = take_send_op();
        unsigned n = c.out.fill(op->iov, max_iov);
        std::uint64_t bytes = 0;
        unsigned take = 0;
        while (take < n && bytes < tls_batch_bytes) {
            bytes += op->iov[take++].iov_len;
        }
        bool ok = t.encrypt(op->iov, take);
        send_pool_.push_back(op);
        if (!ok) {
            on_tls_failure(c);
            return;
        }
        c.out.consume(bytes);
    }
    if (c.close_after_flush && !c.write_shut && !t.has_output() &&
        (c.out.empty() || !t.established() || t.broken())) {
        t.close_notify();
        if (!t.has_output()) {
            c.write_shut = true; // lingering close, as for a plain connection (io.cpp)
            ::shutdown(c.fd, SHUT_WR);
            return;
        }
    }
    if (t.has_output()) {
        send_tls_output(c);
    }
}

} // namespace ringcast::shard
