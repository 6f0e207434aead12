// The ceiling sender: accept loop, then timed phases of back-to-back sends on io_uring.
#include "ceiling_sender.h"

#include "clock.h"
#include "sys_stats.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringcast::bench {

namespace {

struct phase_totals {
    std::uint64_t sends = 0;
    std::uint64_t bytes = 0;
    std::uint64_t errors = 0;
};

bool open_sender_ring(io_uring& ring) {
    io_uring_params params{};
    // This thread alone submits, and completion work runs only when it reaps (see DEPS.md).
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    params.cq_entries = 32768;
    if (io_uring_queue_init_params(4096, &ring, &params) == 0) {
        return true;
    }
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = 32768;
    return io_uring_queue_init_params(4096, &ring, &params) == 0;
}

// One sender thread's slice of sockets. `offset` is, per socket, how far into a frame the
// previous short send stopped: the stream must stay aligned on frame boundaries across sends and
// phases, or the receivers would read garbage.
struct slice_sender {
    io_uring ring{};
    const std::vector<int>& fds;
    std::vector<std::uint32_t>& offset;
    std::vector<std::uint8_t>& dead;
    const std::string& frames;
    phase_totals& totals;

    void submit_send(std::size_t i) {
        io_uring_sqe* s = next_sqe(ring);
        io_uring_prep_send(s, fds[i], frames.data() + offset[i], frames.size() - offset[i], MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, i);
    }
    std::size_t submit_all() {
        std::size_t n = 0;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (dead[i] == 0) {
                submit_send(i);
                ++n;
            }
        }
        return n;
    }
    // Reaps what completed; each completed socket is sent to again when `again`. Returns how
    // many sends are still in flight.
    std::size_t reap(std::size_t inflight, bool again) {
        submit_and_wait_ns(ring, 10'000'000);
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            --inflight;
            auto i = static_cast<std::size_t>(io_uring_cqe_get_data64(cqe));
            if (cqe->res < 0) {
                ++totals.errors;
                dead[i] = 1;
                continue;
            }
            ++totals.sends;
            totals.bytes += static_cast<std::uint64_t>(cqe->res);
            offset[i] = static_cast<std::uint32_t>((offset[i] + static_cast<std::uint64_t>(cqe->res)) %
                                                   ceiling_frame_bytes);
            if (again) {
                submit_send(i);
                ++inflight;
            }
        }
        io_uring_cq_advance(&ring, seen);
        return inflight;
    }
};

void send_phase(const std::vector<int>& fds, std::vector<std::uint32_t>& offset,
                std::vector<std::uint8_t>& dead, const std::string& frames, std::uint64_t deadline,
                double passes_per_second, phase_totals& totals) {
    slice_sender s{{}, fds, offset, dead, frames, totals};
    if (!open_sender_ring(s.ring)) {
        totals.errors += fds.size();
        return;
    }
    if (passes_per_second <= 0) {
        std::size_t inflight = s.submit_all();
        while (inflight > 0) {
            inflight = s.reap(inflight, now_ns() < deadline);
        }
    } else {
        // Paced: a pass over every socket, all of it completed, then idle until the next one.
        auto period = static_cast<std::uint64_t>(1e9 / passes_per_second);
        for (std::uint64_t next = now_ns(); next < deadline; next += period) {
            std::uint64_t now = now_ns();
            if (now < next) {
                std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
            }
            std::size_t inflight = s.submit_all();
            while (inflight > 0) {
                inflight = s.reap(inflight, false);
            }
        }
    }
    io_uring_queue_exit(&s.ring);
}

// All `size` bytes through read(2) or write(2), retrying short transfers and EINTR.
template <class Byte, class Io> bool transfer_exact(int fd, Byte* p, std::size_t size, Io io) {
    while (size > 0) {
        ssize_t n = io(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

std::string ceiling_frame() {
    std::string payload = R"({"event":"bench","channel":"bench","data":")";
    payload.append(ceiling_frame_bytes - 2 - payload.size() - 2, 'x');
    payload += "\"}";
    std::string frame;
    frame += static_cast<char>(0x81); // FIN + text
    frame += static_cast<char>(payload.size());
    frame += payload;
    return frame;
}

bool write_exact(int fd, const void* data, std::size_t size) {
    return transfer_exact(fd, static_cast<const char*>(data), size, ::write);
}

bool read_exact(int fd, void* data, std::size_t size) {
    return transfer_exact(fd, static_cast<char*>(data), size, ::read);
}

int run_ceiling_sender(int listen_fd, std::uint32_t connections, unsigned threads,
                       std::uint64_t accept_timeout_ns, int command_fd, int report_fd) {
    std::vector<int> fds;
    fds.reserve(connections);
    std::uint64_t give_up = now_ns() + accept_timeout_ns;
    while (fds.size() < connections && now_ns() < give_up) {
        pollfd p{listen_fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        // As a real server does: small frames go out at once instead of waiting for an ACK.
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fds.push_back(fd);
    }
    close(listen_fd);
    ceiling_report hello;
    hello.accepted = static_cast<std::uint32_t>(fds.size());
    if (!write_exact(report_fd, &hello, sizeof hello)) {
        return 1;
    }

    threads = std::max(
        1U, std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(fds.size(), 1))));
    std::vector<std::vector<int>> slices(threads);
    std::vector<std::vector<std::uint32_t>> offsets(threads);
    std::vector<std::vector<std::uint8_t>> dead(threads);
    for (std::size_t i = 0; i < fds.size(); ++i) {
        slices[i % threads].push_back(fds[i]);
    }
    for (unsigned t = 0; t < threads; ++t) {
        offsets[t].assign(slices[t].size(), 0);
        dead[t].assign(slices[t].size(), 0);
    }
    const std::string frame = ceiling_frame();

    ceiling_command command;
    while (read_exact(command_fd, &command, sizeof command) && command.frames_per_send > 0) {
        std::string frames;
        for (std::uint32_t i = 0; i < command.frames_per_send; ++i) {
            frames += frame;
        }
        std::vector<phase_totals> totals(threads);
        std::uint64_t cpu_before = self_cpu_ns();
        std::uint64_t start = now_ns();
        std::vector<std::thread> workers;
        for (unsigned t = 0; t < threads; ++t) {
            workers.emplace_back(send_phase, std::cref(slices[t]), std::ref(offsets[t]), std::ref(dead[t]),
                                 std::cref(frames), start + command.duration_ns, command.passes_per_second,
                                 std::ref(totals[t]));
        }
        for (std::thread& w : workers) {
            w.join();
        }
        ceiling_report report;
        report.accepted = static_cast<std::uint32_t>(fds.size());
        report.wall_ns = now_ns() - start;
        report.cpu_ns = self_cpu_ns() - cpu_before;
        for (const phase_totals& p : totals) {
            report.sends += p.sends;
            report.bytes += p.bytes;
            report.errors += p.errors;
        }
        if (!write_exact(report_fd, &report, sizeof report)) {
            break;
        }
    }
    linger abort{1, 0};
    for (int fd : fds) {
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        close(fd);
    }
    return 0;
}

} // namespace ringcast::bench
