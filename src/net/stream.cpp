// Outgoing TCP (and TLS) connections on a ring (see stream.h).
#include "ringcast/net/stream.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ringcast::net {

namespace {

thread_local unsigned records_alive = 0;

enum op : std::uintptr_t { op_connect = 1, op_send = 2, op_recv = 3 };

} // namespace

// What the kernel may still touch: freed by the last completion once detached.
struct stream::io {
    io() { ++records_alive; }
    ~io() { --records_alive; }
    io(const io&) = delete;
    io& operator=(const io&) = delete;

    int fd = -1;
    stream* owner = nullptr; // null once detached
    unsigned outstanding = 0;
    bool connected = false;
    bool sending = false;
    std::unique_ptr<tls_session> tls;
    std::string host;
    std::string out; // being sent: untouched while `sending`
    std::size_t out_off = 0;
    std::string next; // queued behind `out` (before the connect, too)
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    char in[16384];

    void* tag(std::uintptr_t kind) {
        return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(this) | kind);
    }
};

unsigned stream::live() noexcept {
    return records_alive;
}

void stream::drain(ring& r, std::uint64_t limit_ms) {
    for (std::uint64_t waited = 0; live() > 0 && waited < limit_ms; waited += 10) {
        r.wait_and_handle(10, [](std::uint64_t user_data, int res) {
            if (is_stream_tag(user_data)) {
                on_completion(reinterpret_cast<void*>(user_data), res);
            }
        });
    }
}

bool stream::connected() const noexcept {
    return io_ != nullptr && io_->connected;
}

bool stream::open(ring& r, const std::string& host, std::uint16_t port, const tls_context* tls,
                  std::string& error) {
    close();
    ring_ = &r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
        error = "cannot resolve " + host + ": " + gai_strerror(rc);
        return false;
    }
    auto rec = std::make_unique<io>();
    std::memcpy(&rec->addr, found->ai_addr, found->ai_addrlen);
    rec->addr_len = found->ai_addrlen;
    rec->fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    freeaddrinfo(found);
    if (rec->fd < 0) {
        error = std::string("cannot create a socket: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(rec->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls != nullptr) {
        rec->tls = std::make_unique<tls_session>();
        if (!rec->tls->start(*tls, host)) {
            error = rec->tls->error();
            ::close(rec->fd);
            return false;
        }
    }
    rec->host = host + ":" + std::to_string(port);
    rec->owner = this;
    io_ = rec.release();
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_connect(sqe, io_->fd, reinterpret_cast<sockaddr*>(&io_->addr), io_->addr_len);
    io_uring_sqe_set_data(sqe, io_->tag(op_connect));
    ++io_->outstanding;
    return true;
}

void stream::write(std::string_view data) {
    if (io_ == nullptr) {
        return;
    }
    if (io_->tls) {
        // Held inside the session until its handshake is done.
        if (!io_->tls->send(data)) {
            fail(io_->tls->error());
            return;
        }
        if (io_->connected) {
            io_->tls->take_output(io_->next);
        }
    } else {
        io_->next.append(data);
    }
    flush();
}

void stream::flush() {
    io* s = io_;
    if (s == nullptr || !s->connected || s->sending) {
        return;
    }
    if (s->out_off >= s->out.size()) {
        s->out.clear();
        s->out_off = 0;
        s->out.swap(s->next);
    }
    if (s->out.empty()) {
        return;
    }
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_send(sqe, s->fd, s->out.data() + s->out_off, s->out.size() - s->out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, s->tag(op_send));
    ++s->outstanding;
    s->sending = true;
}

void stream::post_recv() {
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_recv(sqe, io_->fd, io_->in, sizeof io_->in, 0);
    io_uring_sqe_set_data(sqe, io_->tag(op_recv));
    ++io_->outstanding;
}

void stream::on_completion(void* tag, int res) {
    auto bits = reinterpret_cast<std::uintptr_t>(tag);
    auto* s = reinterpret_cast<io*>(bits & ~std::uintptr_t{7});
    --s->outstanding;
    if (s->owner == nullptr) {
        if (s->outstanding == 0) {
            ::close(s->fd);
            delete s;
        }
        return;
    }
    stream& st = *s->owner;
    switch (bits & 7) {
    case op_connect:
        st.on_connect_done(res);
        break;
    case op_send:
        s->sending = false;
        st.on_send_done(res);
        break;
    default:
        st.on_recv_done(res);
        break;
    }
}

void stream::fail(std::string why) {
    close();
    owner_.on_closed(why); // may destroy this stream: nothing after it
}

void stream::on_connect_done(int res) {
    if (res < 0) {
        fail("cannot connect to " + io_->host + ": " + std::strerror(-res));
        return;
    }
    io_->connected = true;
    if (io_->tls) {
        io_->tls->take_output(io_->next); // the ClientHello
    }
    post_recv();
    flush();
    if (!io_->tls) {
        owner_.on_connected(); // TLS: once the handshake is done
    }
}

void stream::on_send_done(int res) {
    if (res <= 0) {
        fail(std::string("sending failed: ") + std::strerror(res == 0 ? EPIPE : -res));
        return;
    }
    io_->out_off += static_cast<std::size_t>(res);
    flush();
}

void stream::on_recv_done(int res) {
    if (res <= 0) {
        fail(res == 0 ? "the peer closed the connection"
                      : std::string("receiving failed: ") + std::strerror(-res));
        return;
    }
    std::string_view data(io_->in, static_cast<std::size_t>(res));
    std::uint64_t generation = generation_;
    if (!io_->tls) {
        owner_.on_data(data); // the buffer is reused only by the next receive, posted after
        if (generation_ == generation) {
            post_recv();
        }
        return;
    }
    bool was_established = io_->tls->established();
    std::string plain;
    if (!io_->tls->receive(data, plain)) {
        fail(io_->tls->error());
        return;
    }
    io_->tls->take_output(io_->next);
    flush();
    post_recv();
    bool now_established = io_->tls->established();
    if (!was_established && now_established) {
        owner_.on_connected();
        if (generation_ != generation) {
            return; // closed (or reopened) inside on_connected
        }
    }
    if (!plain.empty()) {
        owner_.on_data(plain);
    }
}

void stream::close() noexcept {
    io* s = io_;
    if (s == nullptr) {
        return;
    }
    io_ = nullptr;
    ++generation_;
    s->owner = nullptr;
    if (s->outstanding == 0) {
        ::close(s->fd);
        delete s;
        return;
    }
    // Wake what the kernel still holds (a receive, a connect in progress); the last completion
    // closes the descriptor and frees the record.
    ::shutdown(s->fd, SHUT_RDWR);
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data(sqe, nullptr);
}

} // namespace ringcast::net
