// The receiver thread: connection ramp, Pusher handshake, and the multishot receive loop.
#include "client_worker.h"

#include "clock.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

// 4 KiB buffers hold dozens of small event frames; 4096 of them (16 MiB per thread) let every
// connection of a 10k run have data queued at once before -ENOBUFS makes us re-arm.
constexpr unsigned buffer_size = 4096;
constexpr unsigned buffer_count = 4096;
constexpr unsigned buffer_group = 0;
constexpr unsigned sq_entries = 4096;
// Multishot receives can post many completions per loop iteration; a large CQ keeps the kernel
// from having to spill into its overflow list.
constexpr unsigned cq_entries = 32768;

std::string errno_name(int err) {
    switch (err) {
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ECONNRESET:
        return "ECONNRESET";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case EPIPE:
        return "EPIPE";
    case EMFILE:
        return "EMFILE";
    case EADDRNOTAVAIL:
        return "EADDRNOTAVAIL";
    case ECANCELED:
        return "ECANCELED";
    default:
        return "errno " + std::to_string(err);
    }
}

} // namespace

client_worker::client_worker(worker_config config, run_control& control)
    : config_(std::move(config)), control_(control), conns_(config_.connection_count) {
    if (config_.max_events > 0) {
        words_per_connection_ = (config_.max_events + 63) / 64;
        bits_.assign(words_per_connection_ * config_.connection_count, 0);
    }
    for (std::uint32_t i = 0; i < config_.connection_count; ++i) {
        conns_[i].group = config_.channels.group_of_connection(config_.first_connection + i);
    }
    if (config_.peers.mode == peer_mode::churn) {
        // Churn slots are opened on the churn schedule (client_churn.cpp), not in the ramp, so
        // the worker counts as settled at once.
        next_to_open_ = config_.connection_count;
    }
    if (config_.peers.mode == peer_mode::presence) {
        tallies_.resize(static_cast<std::size_t>(config_.connection_count) * config_.channels.per_event);
    }
}

client_worker::~client_worker() {
    teardown();
}

bool client_worker::setup_ring() {
    io_uring_params params{};
    // One thread owns this ring and is the only one to submit, so the kernel may skip its locking
    // (SINGLE_ISSUER) and run completion work only when we ask for completions (DEFER_TASKRUN).
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    params.cq_entries = cq_entries;
    int rc = io_uring_queue_init_params(sq_entries, &ring_, &params);
    if (rc == -EINVAL) {
        // Older kernels: plain ring, still correct, a little more expensive.
        params = io_uring_params{};
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = cq_entries;
        rc = io_uring_queue_init_params(sq_entries, &ring_, &params);
    }
    if (rc < 0) {
        result_.setup_error = std::string("io_uring_queue_init: ") + std::strerror(-rc);
        return false;
    }
    ring_ready_ = true;
    int err = 0;
    buffers_ = io_uring_setup_buf_ring(&ring_, buffer_count, buffer_group, 0, &err);
    if (buffers_ == nullptr) {
        result_.setup_error =
            std::string("io_uring_setup_buf_ring (kernel 5.19+ needed): ") + std::strerror(-err);
        return false;
    }
    void* mem = mmap(nullptr, static_cast<std::size_t>(buffer_size) * buffer_count, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        result_.setup_error = "cannot map receive buffers";
        return false;
    }
    buffer_memory_ = static_cast<char*>(mem);
    for (unsigned i = 0; i < buffer_count; ++i) {
        io_uring_buf_ring_add(buffers_, buffer_memory_ + static_cast<std::size_t>(i) * buffer_size,
                              buffer_size, static_cast<unsigned short>(i),
                              io_uring_buf_ring_mask(buffer_count), static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffers_, buffer_count);
    return true;
}

io_uring_sqe* client_worker::sqe() {
    return next_sqe(ring_);
}

void client_worker::run() noexcept {
    if (!setup_ring()) {
        control_.settled_workers.fetch_add(1);
        while (!control_.quit.load(std::memory_order_acquire)) {
            usleep(10'000);
        }
        return;
    }
    ramp_start_ns_ = now_ns();
    now_ns_ = ramp_start_ns_;
    while (!control_.quit.load(std::memory_order_acquire)) {
        open_more(now_ns_);
        for (std::uint32_t index : rearm_) {
            connection& c = conns_[index];
            if (c.st != state::closing && c.st != state::closed && !c.recv_armed) {
                arm_recv(index);
            }
        }
        rearm_.clear();

        std::uint64_t wait_ns = act(now_ns_);
        if (config_.connect_rate > 0 && next_to_open_ < conns_.size()) {
            // Wake in time for the next paced connect.
            auto due =
                ramp_start_ns_ + static_cast<std::uint64_t>(next_to_open_ * 1e9 / config_.connect_rate);
            wait_ns = due > now_ns_ ? std::min<std::uint64_t>(due - now_ns_, idle_wait_ns) : 0;
        }
        submit_and_wait_ns(ring_, wait_ns);

        unsigned head = 0;
        unsigned seen = 0;
        io_uring_cqe* cqe = nullptr;
        now_ns_ = now_ns();
        io_uring_for_each_cqe(&ring_, head, cqe) {
            on_completion(*cqe);
            ++seen;
        }
        io_uring_cq_advance(&ring_, seen);
        if (buffers_returned_ > 0) {
            io_uring_buf_ring_advance(buffers_, buffers_returned_);
            buffers_returned_ = 0;
        }
        flush_delivered();
        now_ns_ = now_ns();
        if (!settled_reported_ && now_ns_ - last_timeout_check_ns_ > 100'000'000) {
            last_timeout_check_ns_ = now_ns_;
            check_timeouts(now_ns_);
        }
        // Churn slots open and close all run long: that worker is settled from the start.
        if (!settled_reported_ && next_to_open_ == conns_.size() &&
            (in_progress_ == 0 || config_.peers.mode == peer_mode::churn)) {
            settled_reported_ = true;
            control_.settled_workers.fetch_add(1, std::memory_order_acq_rel);
        }
    }
    flush_delivered();
    teardown();
}

void client_worker::open_more(std::uint64_t now) {
    while (next_to_open_ < conns_.size() && in_progress_ < config_.concurrency) {
        if (config_.connect_rate > 0 &&
            now < ramp_start_ns_ + static_cast<std::uint64_t>(next_to_open_ * 1e9 / config_.connect_rate)) {
            return;
        }
        open_one(next_to_open_++, now);
    }
}

void client_worker::open_one(std::uint32_t index, std::uint64_t now) {
    connection& c = conns_[index];
    ++result_.attempted;
    ++in_progress_;
    c.started_ns = now;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        fail(index, "socket: " + errno_name(errno));
        release(index);
        return;
    }
    // Pusher messages are small and latency is what we measure: never let Nagle hold them back.
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.st = state::connecting;
    io_uring_sqe* s = sqe();
    io_uring_prep_connect(s, c.fd, reinterpret_cast<const sockaddr*>(&config_.address),
                          sizeof config_.address);
    io_uring_sqe_set_data64(s, user_data(op::connect, index));
    ++c.inflight;
}

void client_worker::arm_recv(std::uint32_t index) {
    connection& c = conns_[index];
    io_uring_sqe* s = sqe();
    // One multishot recv per connection for its whole life, fed from the shared buffer ring: no
    // per-connection receive memory and no re-submission per message.
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = buffer_group;
    io_uring_sqe_set_data64(s, user_data(op::recv, index));
    c.recv_armed = true;
    ++c.inflight;
}

void client_worker::send_bytes(std::uint32_t index) {
    connection& c = conns_[index];
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, user_data(op::send, index));
    c.send_busy = true;
    ++c.inflight;
}

void client_worker::queue_frame(connection& c, ws_opcode opcode, std::string_view payload) {
    // The mask only has to be unpredictable to an attacker; a benchmark has none.
    auto mask = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&c) * 2654435761U);
    auto index = static_cast<std::uint32_t>(&c - conns_.data());
    if (c.tls) {
        std::string frame;
        append_masked_frame(frame, opcode, payload, mask);
        if (!c.tls->send(frame)) {
            fail(index, c.tls->error());
            return;
        }
        flush_tls(index);
        return;
    }
    append_masked_frame(c.send_busy ? c.queued : c.sending, opcode, payload, mask);
    if (!c.send_busy) {
        send_bytes(index);
    }
}

void client_worker::flush_tls(std::uint32_t index) {
    connection& c = conns_[index];
    c.tls->take_output(c.send_busy ? c.queued : c.sending);
    if (!c.send_busy && !c.sending.empty()) {
        send_bytes(index);
    }
}

void client_worker::on_cipher(std::uint32_t index, std::string_view data) {
    connection& c = conns_[index];
    tls_plain_.clear();
    if (!c.tls->receive(data, tls_plain_)) {
        fail(index, c.tls->error());
        return;
    }
    flush_tls(index); // handshake flights; nothing once established
    if (!tls_plain_.empty() && c.st != state::closing) {
        on_bytes(index, tls_plain_); // it copies what it keeps: the buffer is reused next time
    }
}

void client_worker::queue_text(connection& c, std::string_view payload) {
    queue_frame(c, ws_opcode::text, payload);
}

void client_worker::on_completion(const io_uring_cqe& cqe) {
    std::uint64_t data = io_uring_cqe_get_data64(&cqe);
    auto kind = static_cast<op>(data >> 32);
    auto index = static_cast<std::uint32_t>(data & 0xffffffffU);
    switch (kind) {
    case op::connect:
        --conns_[index].inflight;
        on_connect(index, cqe.res);
        break;
    case op::send:
        --conns_[index].inflight;
        conns_[index].send_busy = false;
        on_send(index, cqe.res);
        break;
    case op::recv:
        on_recv(index, cqe);
        break;
    case op::cancel:
        return;
    }
    release(index);
}

void client_worker::on_connect(std::uint32_t index, int res) {
    connection& c = conns_[index];
    if (c.st != state::connecting) {
        return;
    }
    if (res < 0) {
        fail(index, "connect: " + errno_name(-res));
        return;
    }
    arm_recv(index);
    if (config_.mode == client_mode::raw) {
        c.st = state::raw_open;
        on_established(c);
        return;
    }
    std::string key = websocket_key((static_cast<std::uint64_t>(config_.first_connection) + index) ^ now_ns_);
    c.accept = websocket_accept(key);
    std::string upgrade = upgrade_request(config_.server->host, config_.server->port, config_.server->path,
                                          config_.server->app_key, key);
    c.st = state::upgrading;
    c.sent = 0;
    if (config_.server->tls_ctx) {
        // The upgrade waits inside the session until the handshake is through.
        c.tls = std::make_unique<tls_session>();
        if (!c.tls->start(*config_.server->tls_ctx, config_.server->host) || !c.tls->send(upgrade)) {
            fail(index, c.tls->error());
            return;
        }
        flush_tls(index);
        return;
    }
    c.sending = std::move(upgrade);
    send_bytes(index);
}

void client_worker::on_send(std::uint32_t index, int res) {
    connection& c = conns_[index];
    if (c.st == state::closing || c.st == state::closed) {
        return;
    }
    if (res < 0) {
        fail(index, "send: " + errno_name(-res));
        return;
    }
    c.sent += static_cast<std::size_t>(res);
    if (c.sent < c.sending.size()) {
        send_bytes(index); // a short send: the rest goes out next
        return;
    }
    c.sending.swap(c.queued);
    c.queued.clear();
    c.sent = 0;
    if (!c.sending.empty()) {
        send_bytes(index);
    }
}

void client_worker::on_recv(std::uint32_t index, const io_uring_cqe& cqe) {
    connection& c = conns_[index];
    ++result_.recv_completions;
    bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        --c.inflight;
        c.recv_armed = false;
    }
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
        auto bid = static_cast<unsigned short>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
        char* data = buffer_memory_ + static_cast<std::size_t>(bid) * buffer_size;
        if (cqe.res > 0 && c.st != state::closing && c.st != state::closed) {
            std::string_view bytes(data, static_cast<std::size_t>(cqe.res));
            if (c.tls) {
                on_cipher(index, bytes);
            } else {
                on_bytes(index, bytes);
            }
        }
        // Hand the buffer back at once (published to the kernel once per loop iteration).
        io_uring_buf_ring_add(buffers_, data, buffer_size, bid, io_uring_buf_ring_mask(buffer_count),
                              static_cast<int>(buffers_returned_));
        ++buffers_returned_;
    }
    if (c.st == state::closing || c.st == state::closed) {
        return;
    }
    if (cqe.res == -ENOBUFS) {
        // Not an error: the buffer ring was empty for a moment. Buffers come back this iteration.
        ++result_.nobufs;
        if (!more) {
            rearm_.push_back(index);
        }
        return;
    }
    if (cqe.res == 0) {
        fail(index, "closed by server (EOF)");
        return;
    }
    if (cqe.res < 0) {
        fail(index, "recv: " + errno_name(-cqe.res));
        return;
    }
    if (!more && c.st != state::closing && c.st != state::closed) {
        rearm_.push_back(index);
    }
}

void client_worker::fail(std::uint32_t index, const std::string& reason) {
    connection& c = conns_[index];
    if (c.st == state::closing || c.st == state::closed) {
        return; // already on its way out
    }
    if (c.established) {
        ++result_.disconnects[reason];
    } else {
        ++result_.failed;
        ++result_.failures[reason];
        --in_progress_;
    }
    if (c.member == member_state::joining) {
        --joining_; // nobody will answer this join now
    }
    c.member = member_state::out;
    abandon(index);
}

void client_worker::abandon(std::uint32_t index) {
    connection& c = conns_[index];
    c.st = state::closing;
    c.partial.clear();
    c.message.clear();
    c.queued.clear();
    if (c.fd >= 0 && c.inflight > 0) {
        // Cancel whatever is still pending on the socket; the connection is released after the
        // last of those completions, never inside its own handler.
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel_fd(s, c.fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(s, user_data(op::cancel, index));
    }
}

void client_worker::release(std::uint32_t index) {
    connection& c = conns_[index];
    if (c.st == state::closing && c.inflight == 0) {
        if (c.fd >= 0) {
            close(c.fd);
            c.fd = -1;
        }
        c.st = state::closed;
        c.sending.clear();
        c.sending.shrink_to_fit();
        c.tls.reset();
    }
}

void client_worker::check_timeouts(std::uint64_t now) {
    for (std::uint32_t i = 0; i < next_to_open_; ++i) {
        connection& c = conns_[i];
        if (!c.established && c.st != state::idle && c.st != state::closing && c.st != state::closed &&
            now - c.started_ns > config_.connect_timeout_ns) {
            fail(i, "timeout before subscription_succeeded");
            release(i);
        }
    }
}

void client_worker::flush_owed() {
    if (pending_owed_ > 0) {
        control_.owed.fetch_add(pending_owed_, std::memory_order_acq_rel);
        pending_owed_ = 0;
    }
}

void client_worker::flush_delivered() {
    // Before the deliveries: a drain that sees them must already see what they were owed for.
    flush_owed();
    if (pending_delivered_ == 0) {
        return;
    }
    std::uint64_t total =
        control_.delivered.fetch_add(pending_delivered_, std::memory_order_acq_rel) + pending_delivered_;
    pending_delivered_ = 0;
    if (total >= control_.wake_at.load(std::memory_order_acquire) &&
        control_.wake_at.exchange(UINT64_MAX, std::memory_order_acq_rel) != UINT64_MAX) {
        std::uint64_t one = 1;
        [[maybe_unused]] ssize_t n = write(control_.wake_fd, &one, sizeof one);
    }
}

void client_worker::teardown() {
    if (ring_ready_) {
        // Abortive close (RST): no TIME_WAIT left behind, so back-to-back runs never run out of
        // ephemeral ports. Exiting the ring first cancels every pending operation and drops the
        // ring's references to the sockets.
        linger abort{1, 0};
        for (connection& c : conns_) {
            if (c.fd >= 0) {
                setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
            }
        }
        if (buffers_ != nullptr) {
            io_uring_free_buf_ring(&ring_, buffers_, buffer_count, buffer_group);
            buffers_ = nullptr;
        }
        io_uring_queue_exit(&ring_);
        ring_ready_ = false;
    }
    for (connection& c : conns_) {
        if (c.fd >= 0) {
            close(c.fd);
            c.fd = -1;
        }
    }
    if (buffer_memory_ != nullptr) {
        munmap(buffer_memory_, static_cast<std::size_t>(buffer_size) * buffer_count);
        buffer_memory_ = nullptr;
    }
}

void client_worker::add_established_per_group(std::vector<std::uint64_t>& per_group) const {
    for (const connection& c : conns_) {
        if (c.established) {
            ++per_group[c.group];
        }
    }
}

std::uint64_t client_worker::count_lost(const std::vector<std::uint8_t>& published_ok) const {
    if (words_per_connection_ == 0) {
        return 0;
    }
    std::uint64_t lost = 0;
    std::uint64_t limit = std::min<std::uint64_t>(published_ok.size(), config_.max_events);
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        if (!conns_[i].established) {
            continue;
        }
        const std::uint64_t* bits = bits_.data() + i * words_per_connection_;
        for (std::uint64_t seq = 0; seq < limit; ++seq) {
            if (published_ok[seq] != 0 && config_.channels.group_of_event(seq) == conns_[i].group &&
                (bits[seq / 64] & (1ULL << (seq % 64))) == 0) {
                ++lost;
            }
        }
    }
    return lost;
}

} // namespace ringcast::bench
