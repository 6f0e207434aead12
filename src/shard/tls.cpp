// TLS connections: what the socket receives goes through the connection's tls_server_session
// before its conn_state sees it, and what is queued for it is encrypted in one batch right
// before each send (see shard.h).
#include "detail.h"

#include "ringcast/core/log.h"

#include <sys/socket.h>

namespace ringcast::shard {

using namespace detail;

void shard::on_tls_recv(conn& c, std::string_view cipher) {
    net::tls_server_session& t = *c.tls;
    tls_plain_.clear();
    net::tls_server_session::result r = t.receive(cipher, tls_plain_);
    if (c.handshaking && t.established()) {
        end_handshake(c);
        metrics_.tls_handshakes.add();
        if (!core::debug_filtered()) {
            RC_LOG_DEBUG("connection %u: TLS established (%s)", c.slot, t.describe().c_str());
        }
    }
    if (t.has_output()) {
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

void shard::flush_tls(conn& c) {
    net::tls_server_session& t = *c.tls;
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
    if (!t.has_output()) {
        return;
    }
    std::string_view bytes = t.next_output();
    send_op* op = take_send_op();
    op->iov[0].iov_base = const_cast<char*>(bytes.data());
    op->iov[0].iov_len = bytes.size();
    op->bytes = bytes.size();
    submit_send(c, op, 1);
}

} // namespace ringcast::shard
