// A keep-alive HTTP/1.1 client for one webhook target over the webhook thread's ring (see
// client.h).
#include "ringcast/webhook/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringcast::webhook {

// One TCP connection. Owned by its client while open; detached (owner null) once dropped, and
// freed by the last completion of the operations the kernel still holds for it.
namespace {
thread_local unsigned sockets_alive = 0;
} // namespace

struct client::socket_io {
    socket_io() { ++sockets_alive; }
    ~socket_io() { --sockets_alive; }
    socket_io(const socket_io&) = delete;
    socket_io& operator=(const socket_io&) = delete;

    int fd = -1;
    client* owner = nullptr;
    unsigned outstanding = 0;
    bool connected = false;
    bool sending = false;
    std::unique_ptr<net::tls_session> tls;
    std::string out; // being sent: not touched while `sending`
    std::size_t out_off = 0;
    std::string next; // queued behind `out`
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    char in[16384];
};

namespace {

void* tag_of(void* sock, std::uintptr_t op) {
    return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(sock) | op);
}

std::string errno_text(int err) {
    return std::strerror(err);
}

} // namespace

client::client(const config::webhook_target& target, const net::tls_context* tls, done_fn done)
    : target_(target), tls_(tls), done_(std::move(done)) {
    llhttp_settings_init(&settings_);
    settings_.on_message_complete = &client::on_message_complete;
}

client::~client() {
    drop_socket();
}

unsigned client::live_sockets() noexcept {
    return sockets_alive;
}

int client::on_message_complete(llhttp_t* p) {
    auto* self = static_cast<client*>(p->data);
    int status = llhttp_get_status_code(p);
    if (status < 200) {
        return 0; // 100 Continue and friends: the real answer follows
    }
    self->status_ = status;
    self->complete_ = true;
    return HPE_PAUSED;
}

void client::start(net::ring& r, std::string request, std::uint64_t now_ms, std::uint32_t connect_timeout_ms,
                   std::uint32_t request_timeout_ms) {
    ring_ = &r;
    busy_ = true;
    request_ = std::move(request);
    request_timeout_ms_ = request_timeout_ms;
    status_ = 0;
    complete_ = false;
    got_response_bytes_ = false;
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    if (sock_ != nullptr && sock_->connected) {
        reused_ = true;
        deadline_ms_ = now_ms + request_timeout_ms_;
        queue_output(request_);
        flush();
        return;
    }
    reused_ = false;
    deadline_ms_ = now_ms + connect_timeout_ms;
    open(now_ms);
}

void client::open(std::uint64_t) {
    drop_socket();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    // Blocking, on the webhook thread only: a slow resolver delays webhooks, never WebSocket traffic.
    int rc = getaddrinfo(target_.host.c_str(), std::to_string(target_.port).c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
        finish(0, "cannot resolve " + target_.host + ": " + gai_strerror(rc));
        return;
    }
    auto* s = new socket_io();
    std::memcpy(&s->addr, found->ai_addr, found->ai_addrlen);
    s->addr_len = found->ai_addrlen;
    s->fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    freeaddrinfo(found);
    if (s->fd < 0) {
        int err = errno;
        delete s;
        finish(0, "cannot create a socket: " + errno_text(err));
        return;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->owner = this;
    sock_ = s;
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_connect(sqe, s->fd, reinterpret_cast<sockaddr*>(&s->addr), s->addr_len);
    io_uring_sqe_set_data(sqe, tag_of(s, static_cast<std::uintptr_t>(op::connect)));
    ++s->outstanding;
}

void client::on_completion(void* tag, int res, std::uint64_t now_ms) {
    auto bits = reinterpret_cast<std::uintptr_t>(tag);
    auto* s = reinterpret_cast<socket_io*>(bits & ~std::uintptr_t{7});
    auto what = static_cast<op>(bits & 7);
    --s->outstanding;
    if (s->owner == nullptr) {
        if (s->outstanding == 0) {
            ::close(s->fd);
            delete s;
        }
        return;
    }
    client& c = *s->owner;
    switch (what) {
    case op::connect:
        c.on_connected(res, now_ms);
        break;
    case op::send:
        s->sending = false;
        c.on_sent(res);
        break;
    case op::recv:
        c.on_received(res);
        break;
    }
}

void client::on_connected(int res, std::uint64_t now_ms) {
    if (res < 0) {
        drop_socket();
        finish(0, "cannot connect to " + target_.host + ":" + std::to_string(target_.port) + ": " +
                      errno_text(-res));
        return;
    }
    sock_->connected = true;
    deadline_ms_ = now_ms + request_timeout_ms_;
    if (target_.tls) {
        sock_->tls = std::make_unique<net::tls_session>();
        if (!sock_->tls->start(*tls_, target_.host)) {
            std::string why = sock_->tls->error();
            drop_socket();
            finish(0, why);
            return;
        }
    }
    queue_output(request_);
    flush();
    post_recv();
}

void client::queue_output(std::string_view plain) {
    if (sock_->tls) {
        // The TLS session holds the request back until its handshake is done.
        (void)sock_->tls->send(plain);
        sock_->tls->take_output(sock_->next);
    } else {
        sock_->next.append(plain);
    }
}

void client::flush() {
    socket_io* s = sock_;
    if (s == nullptr || s->sending) {
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
    io_uring_sqe_set_data(sqe, tag_of(s, static_cast<std::uintptr_t>(op::send)));
    ++s->outstanding;
    s->sending = true;
}

void client::on_sent(int res) {
    if (res <= 0) {
        drop_socket();
        if (busy_) {
            finish(0, "sending failed: " + errno_text(res == 0 ? EPIPE : -res));
        }
        return;
    }
    sock_->out_off += static_cast<std::size_t>(res);
    flush();
}

void client::post_recv() {
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_recv(sqe, sock_->fd, sock_->in, sizeof sock_->in, 0);
    io_uring_sqe_set_data(sqe, tag_of(sock_, static_cast<std::uintptr_t>(op::recv)));
    ++sock_->outstanding;
}

void client::on_received(int res) {
    if (!busy_) {
        drop_socket(); // the target closed an idle keep-alive connection (or spoke out of turn)
        return;
    }
    if (res <= 0) {
        if (res == 0 && llhttp_finish(&parser_) == HPE_OK && complete_) {
            drop_socket(); // an answer delimited by the end of the connection
            finish(status_, "");
            return;
        }
        bool stale = reused_ && !got_response_bytes_;
        drop_socket();
        if (stale) {
            // The target closed the kept-alive connection as we reused it: one fresh try, uncounted.
            reused_ = false;
            open(0);
            return;
        }
        finish(0, res == 0 ? "the target closed the connection without answering"
                           : "receiving failed: " + errno_text(-res));
        return;
    }
    got_response_bytes_ = true;
    std::string_view data(sock_->in, static_cast<std::size_t>(res));
    if (sock_->tls) {
        std::string plain;
        if (!sock_->tls->receive(data, plain)) {
            std::string why = sock_->tls->error();
            drop_socket();
            finish(0, why);
            return;
        }
        sock_->tls->take_output(sock_->next);
        flush();
        feed(plain);
    } else {
        feed(data);
    }
    if (sock_ != nullptr) {
        post_recv();
    }
}

void client::feed(std::string_view plain) {
    if (plain.empty() || complete_) {
        return;
    }
    llhttp_errno_t err = llhttp_execute(&parser_, plain.data(), plain.size());
    if (err != HPE_OK && err != HPE_PAUSED) {
        drop_socket();
        finish(0, std::string("not an HTTP answer: ") + llhttp_errno_name(err));
        return;
    }
    if (complete_) {
        if (llhttp_should_keep_alive(&parser_) == 0) {
            drop_socket();
        }
        finish(status_, "");
    }
}

void client::finish(int status, const std::string& error) {
    busy_ = false;
    done_(status, error);
}

void client::check_deadline(std::uint64_t now_ms) {
    if (!busy_ || now_ms < deadline_ms_) {
        return;
    }
    bool connected = sock_ != nullptr && sock_->connected;
    drop_socket();
    finish(0, connected ? "no answer within " + std::to_string(request_timeout_ms_) + " ms"
                        : "connecting timed out");
}

void client::drop_socket() {
    socket_io* s = sock_;
    if (s == nullptr) {
        return;
    }
    sock_ = nullptr;
    s->owner = nullptr;
    if (s->outstanding == 0) {
        ::close(s->fd);
        delete s;
        return;
    }
    // Wake what the kernel still holds (a receive, a connect in progress); the last completion
    // closes the descriptor and frees the record.
    ::shutdown(s->fd, SHUT_RDWR);
    if (ring_ != nullptr) {
        io_uring_sqe* sqe = ring_->sqe();
        io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data(sqe, nullptr);
    }
}

} // namespace ringcast::webhook
