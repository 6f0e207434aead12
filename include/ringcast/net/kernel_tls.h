// Kernel TLS (kTLS): whether this kernel can encrypt a TLS session's records itself, and the
// two socket options that hand it a session (tls_server.h says when and why).
#pragma once

#include <cstddef>
#include <string>

namespace ringcast::net {

// What the kernel can take over, found once per process by trying it on a loopback connection.
struct kernel_tls_support {
    // One bit per cipher the kernel accepted sending keys for: bit (TLS_CIPHER_x - TLS_CIPHER_AES_GCM_128).
    unsigned ciphers = 0;
    // When no cipher was accepted: why ("the kernel has no tls module (CONFIG_TLS)").
    std::string why_not;

    [[nodiscard]] bool usable() const noexcept { return ciphers != 0; }
};

// The result of the first call, cached (the kernel does not gain or lose its tls module while we
// run, and a probe costs three loopback connections).
[[nodiscard]] const kernel_tls_support& probe_kernel_tls();

// The bit of a kernel cipher (TLS_CIPHER_AES_GCM_128...) in kernel_tls_support::ciphers.
[[nodiscard]] unsigned kernel_cipher_bit(unsigned cipher_type) noexcept;

// Gives the kernel a session's sending keys (setsockopt SOL_TLS TLS_TX with `crypto_info`, a
// struct tls12_crypto_info_*). Returns 0 or an errno.
[[nodiscard]] int give_kernel_send_keys(int fd, const void* crypto_info, std::size_t size) noexcept;
// Its signature: tls_server_session::start_kernel_send takes another for tests (a fake kernel).
using kernel_key_taker = int (*)(int fd, const void* crypto_info, std::size_t size) noexcept;

// Attaches the kernel's tls layer to a connected TCP socket (setsockopt TCP_ULP "tls"). It only
// sits there until keys are given: bytes still pass untouched. Returns 0 or an errno.
[[nodiscard]] int attach_kernel_tls(int fd) noexcept;

} // namespace ringcast::net
