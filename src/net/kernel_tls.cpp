// Kernel TLS: the start-up probe and the ULP switch (see kernel_tls.h).
#include "ringcast/net/kernel_tls.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringcast::net {

namespace {

// A socket that closes itself.
struct socket_fd {
    int fd = -1;
    socket_fd() = default;
    explicit socket_fd(int f) : fd(f) {}
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    ~socket_fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

// Listens on a free loopback port; returns 0 or an errno.
int listen_on_loopback(socket_fd& l, sockaddr_in& address) {
    l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    address = sockaddr_in{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* a = reinterpret_cast<sockaddr*>(&address);
    if (l.fd < 0 || ::bind(l.fd, a, sizeof address) != 0 || ::listen(l.fd, 4) != 0 ||
        ::getsockname(l.fd, a, &length) != 0) {
        return errno;
    }
    return 0;
}

// Sending keys of `cipher` (all zero: nothing is ever sent with them) for TLS 1.3, the version
// the probe asks for because every kernel that takes it takes TLS 1.2 too.
template <typename Info> int give_keys(int fd, unsigned cipher) {
    Info info{};
    info.info.version = TLS_1_3_VERSION;
    info.info.cipher_type = static_cast<unsigned short>(cipher);
    return ::setsockopt(fd, SOL_TLS, TLS_TX, &info, sizeof info);
}

// One fresh connection per cipher: the kernel takes sending keys once per socket.
int try_cipher(const sockaddr_in& address, unsigned cipher) {
    socket_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (c.fd < 0 || ::connect(c.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        return errno;
    }
    if (int e = attach_kernel_tls(c.fd); e != 0) {
        return e;
    }
    int rc = -1;
    switch (cipher) {
    case TLS_CIPHER_AES_GCM_128:
        rc = give_keys<tls12_crypto_info_aes_gcm_128>(c.fd, cipher);
        break;
    case TLS_CIPHER_AES_GCM_256:
        rc = give_keys<tls12_crypto_info_aes_gcm_256>(c.fd, cipher);
        break;
    case TLS_CIPHER_CHACHA20_POLY1305:
        rc = give_keys<tls12_crypto_info_chacha20_poly1305>(c.fd, cipher);
        break;
    default:
        return EINVAL;
    }
    return rc == 0 ? 0 : errno;
}

kernel_tls_support probe() {
    kernel_tls_support out;
    sockaddr_in address{};
    socket_fd l;
    if (int e = listen_on_loopback(l, address); e != 0) {
        out.why_not = std::string("cannot probe it: no loopback listener: ") + std::strerror(e);
        return out;
    }
    int first_error = 0;
    for (unsigned cipher : {TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_CHACHA20_POLY1305}) {
        int e = try_cipher(address, cipher);
        if (e == 0) {
            out.ciphers |= kernel_cipher_bit(cipher);
        } else if (first_error == 0) {
            first_error = e;
        }
    }
    if (!out.usable()) {
        // ENOENT from TCP_ULP: no "tls" upper layer is registered (CONFIG_TLS unset, or the
        // module not loaded and not loadable by us).
        out.why_not = first_error == ENOENT
                          ? "the kernel has no tls module (CONFIG_TLS)"
                          : std::string("the kernel refused it: ") + std::strerror(first_error);
    }
    return out;
}

} // namespace

const kernel_tls_support& probe_kernel_tls() {
    static const kernel_tls_support found = probe();
    return found;
}

unsigned kernel_cipher_bit(unsigned cipher_type) noexcept {
    unsigned shift = cipher_type - TLS_CIPHER_AES_GCM_128;
    return shift < 32 ? 1U << shift : 0;
}

int give_kernel_send_keys(int fd, const void* crypto_info, std::size_t size) noexcept {
    return ::setsockopt(fd, SOL_TLS, TLS_TX, crypto_info, static_cast<socklen_t>(size)) == 0 ? 0 : errno;
}

int attach_kernel_tls(int fd) noexcept {
    static const char name[] = "tls";
    return ::setsockopt(fd, SOL_TCP, TCP_ULP, name, sizeof name - 1) == 0 ? 0 : errno;
}

} // namespace ringcast::net
