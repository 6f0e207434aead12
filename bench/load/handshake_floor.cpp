// The connect floor: raw accept + WebSocket handshake + canned Pusher replies + close, on one
// io_uring, with one operation in flight per connection. See handshake_floor.h.
#include "handshake_floor.h"

#include "ringcast/core/crypto.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <liburing.h>
#include <memory>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringcast::bench {

namespace {

constexpr std::uint64_t accept_tag = ~std::uint64_t{0};
constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum class phase : std::uint8_t { request, subscribe, idle };

struct floor_conn {
    int fd = -1;
    phase at = phase::request;
    bool sending = false;
    std::uint32_t used = 0;
    std::array<char, 1024> in{}; // the bench's upgrade request (~200 bytes) or subscribe frame fits
    std::string out;
    std::size_t sent = 0;
};

// One unmasked text frame around `payload` (the floor's replies are all under 64 KiB).
std::string text_frame(std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(0x81));
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(payload.size()));
    } else {
        f.push_back(static_cast<char>(126));
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xff));
    }
    f.append(payload);
    return f;
}

// The length of the first whole client frame in `b`, or 0 while it is incomplete.
std::size_t whole_frame(std::string_view b) {
    if (b.size() < 2) {
        return 0;
    }
    std::size_t len = static_cast<unsigned char>(b[1]) & 0x7f;
    std::size_t header = 2 + ((static_cast<unsigned char>(b[1]) & 0x80) ? 4 : 0);
    if (len == 126) {
        if (b.size() < 4) {
            return 0;
        }
        len = (static_cast<std::size_t>(static_cast<unsigned char>(b[2])) << 8) |
              static_cast<unsigned char>(b[3]);
        header += 2;
    } else if (len == 127) {
        return b.size() + 1; // never from these clients: too long for the buffer, so a close
    }
    return b.size() >= header + len ? header + len : 0;
}

// The 101 with the accept key for the request's Sec-WebSocket-Key, and connection_established.
std::string upgrade_reply(std::string_view request) {
    std::string lower(request);
    for (char& ch : lower) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    std::string_view key;
    if (std::size_t at = lower.find("\r\nsec-websocket-key:"); at != std::string::npos) {
        std::size_t from = request.find_first_not_of(' ', at + 20);
        key = request.substr(from, request.find("\r\n", from) - from);
    }
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: ";
    reply += core::sha1_base64(std::string(key) + std::string(websocket_guid));
    reply += "\r\n\r\n";
    reply += text_frame(R"({"event":"pusher:connection_established",)"
                        R"("data":"{\"socket_id\":\"1.1\",\"activity_timeout\":120}"})");
    return reply;
}

class handshake_floor {
public:
    explicit handshake_floor(int listen_fd) : listen_fd_(listen_fd) {}

    int run() {
        io_uring_params params{};
        // As ringcast's shards: one thread submits, completions' task work runs when it waits.
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        if (io_uring_queue_init_params(4096, &ring_, &params) != 0) {
            return 1;
        }
        arm_accept();
        int rc = 0;
        while ((rc = io_uring_submit_and_wait(&ring_, 1)) >= 0 || rc == -EINTR) {
            io_uring_cqe* cqe = nullptr;
            unsigned head = 0;
            unsigned seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                handle(cqe->user_data, cqe->res, cqe->flags);
                ++seen;
            }
            io_uring_cq_advance(&ring_, seen);
        }
        return 1;
    }

private:
    io_uring_sqe* sqe() {
        io_uring_sqe* s = io_uring_get_sqe(&ring_);
        if (s == nullptr) {
            io_uring_submit(&ring_); // the queue is full: make room, then there is an entry
            s = io_uring_get_sqe(&ring_);
        }
        return s;
    }

    void arm_accept() {
        io_uring_sqe* s = sqe();
        io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(s, accept_tag);
    }

    void post_recv(std::uint32_t id) {
        floor_conn& c = *conns_[id];
        io_uring_sqe* s = sqe();
        io_uring_prep_recv(s, c.fd, c.in.data() + c.used, c.in.size() - c.used, 0);
        io_uring_sqe_set_data64(s, id);
    }

    void post_send(std::uint32_t id) {
        floor_conn& c = *conns_[id];
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, id);
    }

    void handle(std::uint64_t tag, int res, unsigned flags) {
        if (tag == accept_tag) {
            if (res >= 0) {
                open(res);
            }
            if (!(flags & IORING_CQE_F_MORE)) {
                arm_accept();
            }
            return;
        }
        auto id = static_cast<std::uint32_t>(tag);
        if (conns_[id]->sending) {
            on_sent(id, res);
        } else {
            on_received(id, res);
        }
    }

    void open(int fd) {
        std::uint32_t id;
        if (free_.empty()) {
            id = static_cast<std::uint32_t>(conns_.size());
            conns_.push_back(std::make_unique<floor_conn>());
        } else {
            id = free_.back();
            free_.pop_back();
            *conns_[id] = floor_conn{};
        }
        conns_[id]->fd = fd;
        post_recv(id);
    }

    void close_conn(std::uint32_t id) {
        ::close(conns_[id]->fd);
        conns_[id]->fd = -1;
        free_.push_back(id);
    }

    void reply(std::uint32_t id, std::string out, phase next) {
        floor_conn& c = *conns_[id];
        c.out = std::move(out);
        c.sent = 0;
        c.used = 0;
        c.sending = true;
        c.at = next;
        post_send(id);
    }

    void on_received(std::uint32_t id, int res) {
        floor_conn& c = *conns_[id];
        if (res <= 0) {
            close_conn(id); // the client closed (or reset): the connection's life is over
            return;
        }
        c.used += static_cast<std::uint32_t>(res);
        std::string_view got(c.in.data(), c.used);
        if (c.at == phase::request && got.find("\r\n\r\n") != std::string_view::npos) {
            reply(id, upgrade_reply(got), phase::subscribe);
        } else if (c.at == phase::subscribe && whole_frame(got) != 0 && whole_frame(got) <= got.size()) {
            reply(id,
                  text_frame(
                      R"({"event":"pusher_internal:subscription_succeeded","channel":"bench","data":"{}"})"),
                  phase::idle);
        } else if (c.used == c.in.size() || (c.at == phase::subscribe && whole_frame(got) > got.size())) {
            close_conn(id); // more than these clients ever send
        } else {
            if (c.at == phase::idle) {
                c.used = 0; // whatever comes after the subscribe (a close frame) is not read
            }
            post_recv(id);
        }
    }

    void on_sent(std::uint32_t id, int res) {
        floor_conn& c = *conns_[id];
        if (res < 0) {
            close_conn(id);
            return;
        }
        c.sent += static_cast<std::size_t>(res);
        if (c.sent < c.out.size()) {
            post_send(id);
            return;
        }
        c.sending = false;
        post_recv(id);
    }

    int listen_fd_;
    io_uring ring_{};
    std::vector<std::unique_ptr<floor_conn>> conns_;
    std::vector<std::uint32_t> free_;
};

} // namespace

int run_handshake_floor(int listen_fd) {
    handshake_floor floor(listen_fd);
    return floor.run();
}

} // namespace ringcast::bench
