// The bench's blocking TLS handshake for publisher connections.
#include "tls_session.h"

#include <sys/socket.h>

namespace ringcast::bench {

namespace {

bool handshake_loop(int fd, tls_session& session, std::string& error) {
    std::string out;
    std::string ignored;
    char buf[16384];
    while (true) {
        out.clear();
        session.take_output(out);
        for (std::size_t sent = 0; sent < out.size();) {
            ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                error = "TLS handshake: send failed";
                return false;
            }
            sent += static_cast<std::size_t>(n);
        }
        if (session.established()) {
            return true;
        }
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            error = n == 0 ? "TLS handshake: the server closed the connection" : "TLS handshake: no answer";
            return false;
        }
        if (!session.receive(std::string_view(buf, static_cast<std::size_t>(n)), ignored)) {
            error = session.error();
            return false;
        }
    }
}

} // namespace

bool tls_handshake_blocking(int fd, tls_session& session, std::string& error) {
    // A server that never answers must not hang the publisher: give up after 10 s without a reply.
    timeval limit{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    bool ok = handshake_loop(fd, session, error);
    timeval none{0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    return ok;
}

} // namespace ringcast::bench
