// `ringcast restart`: finding the old server, steering, signalling, and cleaning up after it.
#include "ringcast/server/takeover.h"

#include "ringcast/core/log.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ringcast::server {
namespace {

// How long the steering stays after the old server was told to stop, at most: its stop takes
// 2 s for requests in progress, 2 s for the goodbyes and the webhooks' grace (3 s by default).
constexpr int steering_limit_ms = 60'000;

// Waits until every process in `pids` has exited (or the limit), then removes the steering
// and closes `fd` (our own duplicate of a listener). A pidfd turns readable when its process
// exits, reaped or not.
void remove_steering_later(std::vector<pid_t> pids, int fd) {
    std::thread([pids = std::move(pids), fd] {
        for (pid_t pid : pids) {
            int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
            if (pidfd < 0) {
                continue; // gone already
            }
            pollfd p{pidfd, POLLIN, 0};
            ::poll(&p, 1, steering_limit_ms);
            ::close(pidfd);
        }
        net::stop_steering(fd);
        ::close(fd);
        RC_LOG_INFO("restart: the old server has exited; new connections are spread over all shards again");
    }).detach();
}

} // namespace

takeover::takeover(const std::string& host, std::uint16_t port)
    : address_(host + ":" + std::to_string(port)), old_(net::find_port_owner(host, port)) {
    for (pid_t pid : old_.pids) {
        std::string name = net::process_name(pid);
        if (name != "ringcast") {
            throw std::runtime_error("cannot take " + address_ + " over: it is served by process " +
                                     std::to_string(pid) + " (" + name +
                                     "), not by a ringcast; stop it first");
        }
    }
}

void takeover::complete(int listen_fd, unsigned our_sockets) {
    net::steer_new_connections(listen_fd, old_.sockets, our_sockets);
    for (pid_t pid : old_.pids) {
        if (::kill(pid, SIGTERM) != 0) {
            RC_LOG_WARN("restart: cannot signal the old server (pid %d): it keeps its connections", pid);
            continue;
        }
        RC_LOG_INFO(
            "restart: took %s over from pid %d (%u listeners), which now stops: its clients are closed "
            "with 4200 and reconnect here",
            address_.c_str(), pid, old_.sockets);
    }
    remove_steering_later(old_.pids, ::dup(listen_fd));
}

} // namespace ringcast::server
