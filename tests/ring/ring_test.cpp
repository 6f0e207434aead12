// A real io_uring shard group on loopback: accept, multishot recv, vectored send, and a
// cross-shard wake-up through the SPSC queues and MSG_RING.
#include "ringcast/net/listener.h"
#include "ringcast/shard/shard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace ringcast;

namespace {

struct text_mail final : shard::mail {
    std::string text;
};

class echo_handler;

// One connection: echoes bytes back; "all:<text>" instead sends <text> to every connection on
// every shard; "burst" queues 90,000 bytes in one call; "throw" throws.
class echo_state final : public shard::conn_state {
public:
    echo_state(echo_handler& h, shard::conn& c) : handler_(h), conn_(c) {}
    void on_data(std::string_view bytes) override;
    void on_timer() override {}
    void on_shutdown() override;
    void on_failure() override;
    void on_closed() override;

private:
    echo_handler& handler_;
    shard::conn& conn_;
};

class echo_handler final : public shard::handler {
public:
    explicit echo_handler(shard::shard& s) : shard_(s) {}
    void on_open(shard::conn& c) override {
        open_.push_back(c.id());
        c.state = std::make_unique<echo_state>(*this, c);
        shard_.send(c, net::frame_ref(net::frame::copy_of("shard " + std::to_string(shard_.index()) + "\n")));
    }
    void on_mail(shard::mail& m) override { deliver(static_cast<text_mail&>(m).text); }

    void broadcast(const std::string& text) {
        deliver(text);
        for (unsigned t = 0; t < shard_.count(); ++t) {
            if (t != shard_.index()) {
                auto m = std::make_unique<text_mail>();
                m->text = text;
                shard_.post(t, std::move(m));
            }
        }
    }
    void forget(shard::conn_id id) { std::erase(open_, id); }
    shard::shard& owner() { return shard_; }

private:
    void deliver(const std::string& text) {
        net::frame_ref f(net::frame::copy_of(text));
        for (shard::conn_id id : open_) {
            if (shard::conn* c = shard_.find(id)) {
                shard_.send(*c, f);
            }
        }
    }
    shard::shard& shard_;
    std::vector<shard::conn_id> open_;
};

void echo_state::on_data(std::string_view bytes) {
    shard::shard& s = handler_.owner();
    if (bytes.starts_with("throw")) {
        throw std::runtime_error("deliberate failure");
    }
    if (bytes.starts_with("burst")) {
        // One call that queues 10 frames of 9,000 bytes: more than a 64 KiB budget.
        net::frame_ref f(net::frame::copy_of(std::string(9000, 'x')));
        for (int i = 0; i < 10; ++i) {
            s.send(conn_, f);
        }
        return;
    }
    if (bytes.starts_with("all:")) {
        handler_.broadcast(std::string(bytes.substr(4)));
        return;
    }
    s.send(conn_, net::frame_ref(net::frame::copy_of(bytes)));
}

void echo_state::on_shutdown() {
    handler_.owner().close(conn_);
}

void echo_state::on_failure() {
    handler_.owner().send(conn_, net::frame_ref(net::frame::copy_of("failed\n")));
}

void echo_state::on_closed() {
    handler_.forget(conn_.id());
}

std::uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

int connect_to(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Reads until `want` bytes arrived or 5 s passed.
std::string read_some(int fd, size_t want) {
    std::string out;
    while (out.size() < want) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) {
            break;
        }
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

class ring_group : public ::testing::Test {
protected:
    void start(unsigned count, std::uint64_t write_budget = 4 << 20) {
        port_ = free_port();
        group_ = std::make_unique<shard::shard_group>(count);
        for (unsigned i = 0; i < count; ++i) {
            shard::options o;
            o.max_pending_write_bytes = write_budget;
            o.overload_frame = net::frame_ref(net::frame::copy_of("OVERLOAD"));
            auto s = std::make_unique<shard::shard>(*group_, i, std::move(o),
                                                    net::listen_reuseport("127.0.0.1", port_));
            s->set_handler(std::make_unique<echo_handler>(*s));
            group_->add(std::move(s));
        }
        for (unsigned i = 0; i < count; ++i) {
            threads_.emplace_back([this, i] { group_->at(i).run(); });
        }
        ASSERT_TRUE(group_->wait_ready());
    }
    void TearDown() override {
        if (group_) {
            group_->stop_all();
            for (auto& t : threads_) {
                t.join();
            }
        }
    }
    std::uint16_t port_ = 0;
    std::unique_ptr<shard::shard_group> group_;
    std::vector<std::thread> threads_;
};

} // namespace

TEST_F(ring_group, echoes_bytes_over_loopback) {
    start(1);
    int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_some(fd, 8), "shard 0\n");
    ASSERT_EQ(write(fd, "hello", 5), 5);
    EXPECT_EQ(read_some(fd, 5), "hello");
    close(fd);
}

TEST_F(ring_group, a_message_posted_on_one_shard_reaches_clients_of_the_other) {
    start(2);
    // SO_REUSEPORT spreads connections by hash; open clients until both shards have one.
    std::vector<int> fds;
    int on[2] = {-1, -1};
    for (int i = 0; i < 64 && (on[0] < 0 || on[1] < 0); ++i) {
        int fd = connect_to(port_);
        ASSERT_GE(fd, 0);
        fds.push_back(fd);
        std::string hello = read_some(fd, 8);
        int shard = hello == "shard 0\n" ? 0 : hello == "shard 1\n" ? 1 : -1;
        ASSERT_NE(shard, -1) << hello;
        if (on[shard] < 0) {
            on[shard] = fd;
        }
    }
    ASSERT_GE(on[0], 0);
    ASSERT_GE(on[1], 0);
    ASSERT_EQ(write(on[0], "all:ping!", 9), 9);
    EXPECT_EQ(read_some(on[1], 5), "ping!");
    EXPECT_EQ(read_some(on[0], 5), "ping!");
    for (int fd : fds) {
        close(fd);
    }
}

TEST_F(ring_group, a_handler_that_throws_closes_only_its_connection) {
    start(1);
    int victim = connect_to(port_);
    int other = connect_to(port_);
    ASSERT_GE(victim, 0);
    ASSERT_GE(other, 0);
    EXPECT_EQ(read_some(victim, 8), "shard 0\n");
    EXPECT_EQ(read_some(other, 8), "shard 0\n");
    ASSERT_EQ(write(victim, "throw", 5), 5);
    // The handler's goodbye, then the end of the connection (read_some stops at EOF).
    EXPECT_EQ(read_some(victim, 64), "failed\n");
    // The shard carries on: the other connection and a new one are served.
    ASSERT_EQ(write(other, "still here", 10), 10);
    EXPECT_EQ(read_some(other, 10), "still here");
    int later = connect_to(port_);
    ASSERT_GE(later, 0);
    EXPECT_EQ(read_some(later, 8), "shard 0\n");
    close(victim);
    close(other);
    close(later);
}

TEST_F(ring_group, a_burst_past_the_write_budget_reaches_a_reader_that_keeps_up) {
    start(1, 64 * 1024);
    int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_some(fd, 8), "shard 0\n");
    for (int round = 0; round < 5; ++round) {
        ASSERT_EQ(write(fd, "burst", 5), 5);
        std::string got = read_some(fd, 90000);
        ASSERT_EQ(got.size(), 90000u) << "round " << round;
        EXPECT_EQ(got.find("OVERLOAD"), std::string::npos);
    }
    close(fd);
}

TEST_F(ring_group, a_peer_that_stops_reading_is_closed_past_its_write_budget) {
    start(1, 64 * 1024);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(read_some(fd, 8), "shard 0\n");
    // 400 bursts (36 MB) asked for without reading any: far more than the kernel's buffers.
    for (int i = 0; i < 400; ++i) {
        ASSERT_EQ(write(fd, "burst", 5), 5);
        usleep(1000);
    }
    // The server gives up on us: reading again, we find what the kernel held, the rest of the
    // frame it was in the middle of, then the goodbye in place of the backlog, then EOF.
    std::string got = read_some(fd, 36'000'000);
    EXPECT_GT(got.size(), 8u);
    EXPECT_LT(got.size(), 4'000'000u) << "the backlog was sent after all";
    EXPECT_TRUE(got.ends_with("OVERLOAD"))
        << got.size() << " bytes, ending " << got.substr(got.size() > 40 ? got.size() - 40 : 0);
    EXPECT_EQ(got.size() % 9000, 8u) << "whole 9,000-byte frames, then the goodbye";
    close(fd);
}
