// SO_REUSEPORT listener creation and accepted-socket tuning.
#include "ringcast/net/listener.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace ringcast::net {

namespace {

// Sets a listening socket's options: shared by every shard, and tuned for Pusher traffic.
void tune_shared_listener(int fd) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // Small frames must leave at once. Accepted sockets inherit TCP_NODELAY from the
    // listener on Linux, which spares a setsockopt per connection.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Bounds what the kernel holds unsent for a peer that stopped reading (autotuning lets
    // a loopback send buffer grow to megabytes): past this a send is short, so the backlog
    // stays in our write queue where the write budget counts it and an "over capacity"
    // goodbye can be put ahead of it. Inherited by accepted sockets too.
    int lowat = static_cast<int>(unsent_low_water);
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
}

// A TCP socket bound to host:port (the first address that binds), listening with `backlog`
// and shared (SO_REUSEPORT) when `shared`, else only bound. Throws naming the address.
int bound_socket(const std::string& host, std::uint16_t port, bool shared, int backlog) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port_text = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res);
    if (rc != 0) {
        throw std::runtime_error("cannot resolve listen address " + host + ": " + gai_strerror(rc));
    }
    std::string last_error = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_error = std::strerror(errno);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (shared) {
            tune_shared_listener(fd);
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && (!shared || listen(fd, backlog) == 0)) {
            freeaddrinfo(res);
            return fd;
        }
        last_error = std::strerror(errno);
        close(fd);
    }
    freeaddrinfo(res);
    throw std::runtime_error("cannot listen on " + host + ":" + port_text + ": " + last_error);
}

} // namespace

int listen_reuseport(const std::string& host, std::uint16_t port, int backlog) {
    return bound_socket(host, port, true, backlog);
}

void refuse_if_served(const std::string& host, std::uint16_t port) {
    // SO_REUSEPORT would let a second server bind the port too and take half the connections
    // (publishes and subscribers would land on different processes). A plain bind, with
    // SO_REUSEADDR so connections still in TIME_WAIT do not count, fails only when something
    // listens there already.
    try {
        close(bound_socket(host, port, false, 0));
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string(e.what()) +
                                 " (is another ringcast, Reverb or soketi already serving this port?)");
    }
}

} // namespace ringcast::net
