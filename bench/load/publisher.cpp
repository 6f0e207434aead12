// The HTTP API publisher: pacing, signing, keep-alive connections and response parsing.
#include "publisher.h"

#include "api_request.h"
#include "clock.h"
#include "tls_session.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

constexpr std::size_t response_buffer = 65536;
// Closed loop: how long to wait for a fan-out to complete before assuming deliveries were lost.
constexpr std::uint64_t stall_ns = 1'000'000'000;
// After the duration, how long outstanding responses may take before they count as failed.
constexpr std::uint64_t response_grace_ns = 10'000'000'000;
// Open loop: an event sent later than this behind its schedule is counted as late.
constexpr std::uint64_t late_ns = 1'000'000;

enum class op : std::uint8_t { send = 1, recv, wake };

std::uint64_t user_data(op kind, std::uint32_t index) noexcept {
    return (static_cast<std::uint64_t>(kind) << 32) | index;
}

struct http_conn {
    int fd = -1;
    bool busy = false;   // a request is out and its response not complete
    bool broken = false; // the connection failed; reconnect once nothing is in flight
    std::uint8_t inflight = 0;
    std::string out;
    std::size_t sent = 0;
    std::string in;
    std::size_t used = 0;
    std::uint64_t first_seq = 0;
    std::uint32_t count = 0;
    std::uint64_t sent_ns = 0;
    std::unique_ptr<tls_session> tls; // --tls: requests and responses go through it
    std::string cipher;               // --tls: what one receive got, before decryption
};

class publisher {
public:
    publisher(const target& server, const publish_plan& plan, run_control& control)
        : server_(server), plan_(plan), control_(control), conns_(plan.connections) {
        result_.ok.assign(plan.max_events, 0);
        // Prefix sums of subscribers per group make "deliveries owed by events 0..k-1" O(1).
        prefix_.assign(plan.subscribers_per_group.size() + 1, 0);
        for (std::size_t g = 0; g < plan.subscribers_per_group.size(); ++g) {
            prefix_[g + 1] = prefix_[g] + plan.subscribers_per_group[g];
        }
    }
    ~publisher() {
        if (ring_ready_) {
            io_uring_queue_exit(&ring_);
        }
        for (http_conn& c : conns_) {
            if (c.fd >= 0) {
                close(c.fd);
            }
        }
    }
    publisher(const publisher&) = delete;
    publisher& operator=(const publisher&) = delete;

    publish_result run();

private:
    std::uint64_t owed_by_first(std::uint64_t events) const noexcept {
        std::uint64_t groups = plan_.subscribers_per_group.size();
        return (events / groups) * prefix_[groups] + prefix_[events % groups];
    }
    io_uring_sqe* sqe();
    bool may_send_closed_loop(std::uint64_t now);
    void send_request(std::uint32_t index, std::uint64_t now);
    void arm_recv(std::uint32_t index);
    void on_send(std::uint32_t index, int res);
    void on_recv(std::uint32_t index, int res, std::uint64_t now);
    void finish(http_conn& c, int status, std::string_view body, std::uint64_t now);
    void reconnect(http_conn& c);
    // Connects (and with --tls, completes the handshake); false with `error` when it cannot.
    bool open(http_conn& c, std::string& error);
    void on_connection_error(std::uint32_t index, const std::string& why, std::uint64_t now);

    const target& server_;
    const publish_plan& plan_;
    run_control& control_;
    publish_result result_;
    std::vector<http_conn> conns_;
    std::vector<std::uint64_t> prefix_;
    io_uring ring_{};
    bool ring_ready_ = false;
    std::uint64_t next_seq_ = 0;
    std::uint64_t busy_ = 0;
    std::uint64_t shortfall_ = 0; // deliveries given up on (failed publishes, stalls)
    std::uint64_t wait_since_ns_ = 0;
    bool wake_armed_ = false;
    std::uint64_t wake_value_ = 0;
};

io_uring_sqe* publisher::sqe() {
    return next_sqe(ring_);
}

publish_result publisher::run() {
    for (http_conn& c : conns_) {
        c.in.resize(response_buffer);
        std::string error;
        if (!open(c, error)) {
            result_.setup_error = "publisher cannot connect: " + error;
            return std::move(result_);
        }
    }
    int rc = io_uring_queue_init(256, &ring_, 0);
    if (rc < 0) {
        result_.setup_error = std::string("publisher io_uring_queue_init: ") + std::strerror(-rc);
        return std::move(result_);
    }
    ring_ready_ = true;

    const bool closed_loop = plan_.rate <= 0;
    result_.start_ns = now_ns();
    const std::uint64_t stop_sending_at = result_.start_ns + plan_.duration_ns;
    while (true) {
        std::uint64_t now = now_ns();
        bool sending = now < stop_sending_at && next_seq_ < plan_.max_events;
        if (!sending && busy_ == 0) {
            break;
        }
        if (!sending && now > stop_sending_at + response_grace_ns) {
            for (std::uint32_t i = 0; i < conns_.size(); ++i) {
                if (conns_[i].busy) {
                    on_connection_error(i, "no response within 10 s after the run", now);
                }
            }
            break;
        }
        std::uint64_t wait = 50'000'000;
        if (sending) {
            for (std::uint32_t i = 0; i < conns_.size() && next_seq_ < plan_.max_events; ++i) {
                http_conn& c = conns_[i];
                if (c.busy || c.broken) {
                    continue;
                }
                if (!closed_loop) {
                    auto due = result_.start_ns +
                               static_cast<std::uint64_t>(static_cast<double>(next_seq_) * 1e9 / plan_.rate);
                    if (now < due) {
                        wait = std::min(wait, due - now);
                        break;
                    }
                    if (now - due > late_ns) {
                        result_.late_events +=
                            std::min<std::uint64_t>(plan_.batch, plan_.max_events - next_seq_);
                    }
                } else if (!may_send_closed_loop(now)) {
                    wait = std::min(wait, stall_ns);
                    break;
                }
                send_request(i, now);
                now = now_ns();
            }
            wait = std::min(wait, stop_sending_at > now ? stop_sending_at - now : 0);
        }
        submit_and_wait_ns(ring_, wait);
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_cqe* cqe = nullptr;
        now = now_ns();
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            std::uint64_t data = io_uring_cqe_get_data64(cqe);
            auto index = static_cast<std::uint32_t>(data & 0xffffffffU);
            switch (static_cast<op>(data >> 32)) {
            case op::send:
                on_send(index, cqe->res);
                break;
            case op::recv:
                on_recv(index, cqe->res, now);
                break;
            case op::wake:
                wake_armed_ = false;
                break;
            }
        }
        io_uring_cq_advance(&ring_, seen);
        for (http_conn& c : conns_) {
            if (c.broken && c.inflight == 0) {
                reconnect(c);
            }
        }
    }
    control_.wake_at.store(UINT64_MAX);
    result_.end_ns = now_ns();
    return std::move(result_);
}

bool publisher::may_send_closed_loop(std::uint64_t now) {
    // Events 0..k-1 must have reached every subscriber, so that at most `window` are in flight
    // once this request's events are out.
    std::uint64_t after = next_seq_ + plan_.batch;
    if (after <= plan_.window) {
        return true;
    }
    std::uint64_t owed = owed_by_first(after - plan_.window);
    std::uint64_t target = owed > shortfall_ ? owed - shortfall_ : 0;
    if (control_.delivered.load(std::memory_order_acquire) >= target) {
        wait_since_ns_ = 0;
        return true;
    }
    if (wait_since_ns_ == 0) {
        wait_since_ns_ = now;
    } else if (now - wait_since_ns_ >= stall_ns) {
        // Deliveries are missing: count a stall, stop waiting for them, and go on. The receivers'
        // sequence tracking reports exactly what was lost.
        ++result_.stalls;
        shortfall_ += target - control_.delivered.load(std::memory_order_acquire);
        wait_since_ns_ = 0;
        return true;
    }
    control_.wake_at.store(target, std::memory_order_release);
    // A receiver may have crossed the target before it saw the new wake_at: check again.
    if (control_.delivered.load(std::memory_order_acquire) >= target) {
        control_.wake_at.store(UINT64_MAX);
        wait_since_ns_ = 0;
        return true;
    }
    if (!wake_armed_) {
        io_uring_sqe* s = sqe();
        io_uring_prep_read(s, control_.wake_fd, &wake_value_, sizeof wake_value_, 0);
        io_uring_sqe_set_data64(s, user_data(op::wake, 0));
        wake_armed_ = true;
    }
    return false;
}

void publisher::send_request(std::uint32_t index, std::uint64_t now) {
    http_conn& c = conns_[index];
    c.first_seq = next_seq_;
    c.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(plan_.batch, plan_.max_events - next_seq_));
    next_seq_ += c.count;
    // The stamp is taken as late as possible; signing (an MD5 and an HMAC, ~2 µs) follows it and
    // is part of the measured latency, as it would be for a real publisher.
    std::uint64_t stamp = now_ns();
    std::string body = c.count > 1 || plan_.batch > 1
                           ? batch_body(plan_.channels, c.first_seq, c.count, stamp, plan_.payload_bytes)
                           : event_body(plan_.channels, c.first_seq, stamp, plan_.payload_bytes);
    c.out = signed_post(server_, plan_.batch > 1 ? "batch_events" : "events", body, unix_seconds());
    if (c.tls) {
        std::string plain;
        plain.swap(c.out);
        if (!c.tls->send(plain)) {
            c.out.clear(); // the request still counts as sent: it fails below, with the TLS error
        }
        c.tls->take_output(c.out);
    }
    c.sent = 0;
    c.used = 0;
    c.sent_ns = stamp;
    c.busy = true;
    ++busy_;
    result_.events_sent += c.count;
    ++result_.requests;
    if (result_.start_ns == 0) {
        result_.start_ns = now;
    }
    result_.last_send_ns = stamp;
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, user_data(op::send, index));
    ++c.inflight;
    arm_recv(index);
    // Submit now: a paced publisher must not hold a due request until the next wait.
    io_uring_submit(&ring_);
}

void publisher::arm_recv(std::uint32_t index) {
    http_conn& c = conns_[index];
    io_uring_sqe* s = sqe();
    if (c.tls) {
        io_uring_prep_recv(s, c.fd, c.cipher.data(), c.cipher.size(), 0);
    } else {
        io_uring_prep_recv(s, c.fd, c.in.data() + c.used, c.in.size() - c.used, 0);
    }
    io_uring_sqe_set_data64(s, user_data(op::recv, index));
    ++c.inflight;
}

void publisher::on_send(std::uint32_t index, int res) {
    http_conn& c = conns_[index];
    --c.inflight;
    if (c.broken) {
        return;
    }
    if (res < 0) {
        on_connection_error(index, std::string("send: ") + std::strerror(-res), now_ns());
        return;
    }
    c.sent += static_cast<std::size_t>(res);
    if (c.sent < c.out.size()) {
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, user_data(op::send, index));
        ++c.inflight;
    }
}

void publisher::on_recv(std::uint32_t index, int res, std::uint64_t now) {
    http_conn& c = conns_[index];
    --c.inflight;
    if (c.broken) {
        return;
    }
    if (res <= 0) {
        on_connection_error(
            index, res == 0 ? "server closed the connection" : std::string("recv: ") + std::strerror(-res),
            now);
        return;
    }
    std::size_t got = static_cast<std::size_t>(res);
    if (c.tls) {
        std::string plain;
        if (!c.tls->receive(std::string_view(c.cipher.data(), got), plain)) {
            on_connection_error(index, c.tls->error(), now);
            return;
        }
        if (plain.size() > c.in.size() - c.used) {
            on_connection_error(index, "response over 64 KiB", now);
            return;
        }
        std::memcpy(c.in.data() + c.used, plain.data(), plain.size());
        got = plain.size();
    }
    c.used += got;
    std::string_view have(c.in.data(), c.used);
    std::size_t head_end = have.find("\r\n\r\n");
    if (head_end != std::string_view::npos) {
        std::string head(have.substr(0, head_end + 2));
        for (char& ch : head) {
            ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        }
        int status = head.starts_with("http/1.") && head.size() > 12 ? std::atoi(head.c_str() + 9) : -1;
        std::size_t body_start = head_end + 4;
        std::size_t cl = head.find("\r\ncontent-length:");
        bool complete = false;
        std::string_view body;
        if (cl != std::string::npos) {
            std::size_t length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
            if (have.size() >= body_start + length) {
                complete = true;
                body = have.substr(body_start, length);
            }
        } else if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
            std::size_t last = have.find("\r\n0\r\n\r\n", body_start > 2 ? body_start - 2 : 0);
            complete = last != std::string_view::npos;
            body = complete ? have.substr(body_start, last - body_start) : std::string_view{};
        } else {
            complete = true; // no body
        }
        if (complete) {
            bool closing = head.find("\r\nconnection: close") != std::string::npos;
            finish(c, status, body, now);
            if (closing) {
                c.broken = true; // reconnects once nothing is in flight
            }
            return;
        }
    }
    if (c.used == c.in.size()) {
        on_connection_error(index, "response over 64 KiB", now);
        return;
    }
    arm_recv(index);
}

void publisher::finish(http_conn& c, int status, std::string_view body, std::uint64_t now) {
    ++result_.statuses[status];
    result_.request_latency.record(now - c.sent_ns);
    for (std::uint64_t seq = c.first_seq; seq < c.first_seq + c.count; ++seq) {
        std::uint64_t owed = plan_.subscribers_per_group[plan_.channels.group_of_event(seq)];
        if (status == 200) {
            result_.ok[seq] = 1;
            ++result_.events_ok;
            result_.expected_deliveries += owed;
        } else {
            shortfall_ += owed; // nobody will receive it: the closed loop must not wait for it
        }
    }
    if (status != 200 && result_.first_error.empty()) {
        result_.first_error = "HTTP " + std::to_string(status) + ": " + std::string(body.substr(0, 200));
    }
    c.busy = false;
    c.used = 0;
    --busy_;
}

void publisher::on_connection_error(std::uint32_t index, const std::string& why, std::uint64_t now) {
    http_conn& c = conns_[index];
    if (c.busy) {
        finish(c, 0, why, now);
        if (result_.first_error.empty() || result_.first_error.starts_with("HTTP 0")) {
            result_.first_error = why;
        }
    }
    c.broken = true;
    if (c.fd >= 0) {
        // Ends the other operation still pending on this socket, if any.
        shutdown(c.fd, SHUT_RDWR);
    }
}

void publisher::reconnect(http_conn& c) {
    if (c.fd >= 0) {
        close(c.fd);
    }
    std::string error;
    c.broken = !open(c, error);
    c.used = 0;
}

bool publisher::open(http_conn& c, std::string& error) {
    c.fd = connect_tcp(server_.host, server_.publish_port != 0 ? server_.publish_port : server_.port);
    if (c.fd < 0) {
        error = std::strerror(-c.fd);
        return false;
    }
    if (!server_.tls_ctx) {
        return true;
    }
    c.tls = std::make_unique<tls_session>();
    c.cipher.resize(response_buffer);
    if (!c.tls->start(*server_.tls_ctx, server_.host)) {
        error = c.tls->error();
        return false;
    }
    return tls_handshake_blocking(c.fd, *c.tls, error);
}

} // namespace

int connect_tcp(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr) {
        return -EHOSTUNREACH;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        freeaddrinfo(found);
        return -err;
    }
    int rc = connect(fd, found->ai_addr, found->ai_addrlen);
    int err = errno;
    freeaddrinfo(found);
    if (rc != 0) {
        close(fd);
        return -err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

publish_result run_publisher(const target& server, const publish_plan& plan, run_control& control) {
    publisher p(server, plan, control);
    return p.run();
}

} // namespace ringcast::bench
