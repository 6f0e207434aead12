// The doctor's blocking client: TCP with timeouts, OpenSSL on the socket for https.
#include "ringcast/doctor/probe.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>

namespace ringcast::doctor {
namespace {

// Long enough for a server across the internet, short enough that a wrong address is reported
// before the user gives up.
constexpr int timeout_ms = 3000;

// A connected socket to the first address of host:port that answers in time.
core::result<int> connect_tcp(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
        return core::failure(std::string("cannot resolve ") + host + ": " + gai_strerror(rc));
    }
    std::string why = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        pollfd p{fd, POLLOUT, 0};
        int err = rc == 0 ? 0 : errno;
        if (err == EINPROGRESS) {
            err = ::poll(&p, 1, timeout_ms) == 1 ? 0 : ETIMEDOUT;
            socklen_t len = sizeof err;
            if (err == 0) {
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
        if (err == 0) {
            freeaddrinfo(res);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            timeval tv{timeout_ms / 1000, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            return fd;
        }
        why = std::strerror(err);
        ::close(fd);
    }
    freeaddrinfo(res);
    return core::failure(why);
}

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    return e == 0 ? "the peer closed the connection" : text;
}

} // namespace

probe::~probe() {
    if (ssl_ != nullptr) {
        SSL_free(static_cast<SSL*>(ssl_));
    }
    if (ctx_ != nullptr) {
        SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
    }
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

core::result<std::unique_ptr<probe>> probe::open(const std::string& host, std::uint16_t port, bool tls) {
    core::result<int> fd = connect_tcp(host, port);
    if (!fd) {
        return fd.error();
    }
    std::unique_ptr<probe> p(new probe());
    p->fd_ = *fd;
    if (!tls) {
        return p;
    }
    // The certificate is checked, not enforced: its verdict is reported on its own line, and
    // the other checks still run over the connection.
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    p->ctx_ = ctx;
    SSL_CTX_set_default_verify_paths(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL* ssl = SSL_new(ctx);
    p->ssl_ = ssl;
    SSL_set_fd(ssl, p->fd_);
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
    if (SSL_connect(ssl) != 1) {
        return core::failure("TLS handshake failed: " + openssl_error());
    }
    if (long v = SSL_get_verify_result(ssl); v != X509_V_OK) {
        p->tls_problem_ = X509_verify_cert_error_string(v);
    }
    return p;
}

core::status probe::send_all(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        long n = ssl_ != nullptr ? SSL_write(static_cast<SSL*>(ssl_), bytes.data() + sent,
                                             static_cast<int>(bytes.size() - sent))
                                 : ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            return core::failure("the connection broke while sending");
        }
        sent += static_cast<std::size_t>(n);
    }
    return core::ok();
}

bool probe::receive() {
    char chunk[4096];
    long n = ssl_ != nullptr ? SSL_read(static_cast<SSL*>(ssl_), chunk, sizeof chunk)
                             : ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
        return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
}

core::result<http_answer> probe::http(const std::string& request) {
    if (core::status s = send_all(request); !s) {
        return s;
    }
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!receive()) {
            return core::failure(buffer_.empty() ? "no answer" : "an incomplete answer");
        }
    }
    http_answer a;
    a.head = buffer_.substr(0, head_end);
    if (a.head.size() < 12 || !a.head.starts_with("HTTP/1.")) {
        return core::failure("an answer that is not HTTP");
    }
    a.status = std::atoi(a.head.c_str() + 9);
    std::size_t length = 0;
    for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
        if (std::size_t at = a.head.find(name); at != std::string::npos) {
            length = std::strtoul(a.head.c_str() + at + std::strlen(name), nullptr, 10);
        }
    }
    buffer_.erase(0, head_end + 4);
    while (buffer_.size() < length && receive()) {
    }
    a.body = buffer_.substr(0, length);
    buffer_.erase(0, a.body.size());
    return a;
}

core::result<std::string> probe::first_frame() {
    // A server frame is unmasked: 2 header bytes, then a 16- or 64-bit length if 126 or 127.
    while (buffer_.size() < 2 && receive()) {
    }
    if (buffer_.size() < 2) {
        return core::failure("no WebSocket frame");
    }
    std::size_t length = static_cast<unsigned char>(buffer_[1]) & 0x7f;
    std::size_t header = 2;
    if (length >= 126) {
        header = length == 126 ? 4 : 10;
        while (buffer_.size() < header && receive()) {
        }
        length = 0;
        for (std::size_t i = 2; i < header && i < buffer_.size(); ++i) {
            length = (length << 8) | static_cast<unsigned char>(buffer_[i]);
        }
    }
    while (buffer_.size() < header + length && receive()) {
    }
    if (buffer_.size() < header + length) {
        return core::failure("an incomplete WebSocket frame");
    }
    return buffer_.substr(header, length);
}

} // namespace ringcast::doctor
