// TLS served by ringcast itself: OpenSSL server sessions whose ciphertext the shard's ring
// carries, so a handshake or a record never blocks a shard and TLS adds no thread.
//
// A session's BIO is ours (not a socket BIO, not a memory BIO): reads take the bytes of the
// receive buffer being handled, in place; writes append to the session's own output, which the
// shard sends and then frees, so an idle TLS connection holds no buffer. Output is kept in two
// pieces: what is in flight (the kernel may still read it until the send completes) and what
// accumulated since, so a record produced while a send is in flight never moves the bytes of
// that send.
//
// Plaintext for a connection is encrypted in batches: everything the shard has queued for it
// since its last send goes into one SSL_write (one record per 16 KiB), not one record per frame.
//
// Ownership: a tls_server_context is built once (and again on SIGHUP) and shared read-only by
// every shard; each session belongs to the shard that owns its connection and keeps the context
// it was made with alive, so a reload never pulls certificates from under a handshake.
#pragma once

#include "ringcast/config/config.h"

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <openssl/types.h>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::net {

class tls_server_context {
public:
    // Reads every certificate chain and key and checks each pair; on failure returns nullptr and
    // `error` names the file and what is wrong with it.
    [[nodiscard]] static std::shared_ptr<const tls_server_context>
    create(const config::tls_settings& settings, std::string& error);
    ~tls_server_context();
    tls_server_context(const tls_server_context&) = delete;
    tls_server_context& operator=(const tls_server_context&) = delete;

    // The default certificate's context; the SNI callback moves a session to another one.
    [[nodiscard]] SSL_CTX* get() const noexcept { return contexts_.front(); }
    // For the banner and the log: "TLS 1.2+, certificates for localhost, other.test".
    [[nodiscard]] std::string describe() const;
    // The serial number of the default certificate, in hex (for the reload log line).
    [[nodiscard]] std::string default_serial() const;

private:
    tls_server_context() = default;
    bool add_certificate(const config::tls_settings& settings, const config::tls_certificate& cert,
                         std::string& error);
    static int on_server_name(SSL* ssl, int* alert, void* self);
    SSL_CTX* context_for(std::string_view host) const noexcept;

    std::vector<SSL_CTX*> contexts_;              // [0] = the default certificate
    std::vector<std::vector<std::string>> names_; // each certificate's DNS names, lower case
    std::string min_version_;
};

// The certificates a TLS listener presents now. SIGHUP stores a new context; each handshake
// loads the current one.
using tls_server_slot = std::atomic<std::shared_ptr<const tls_server_context>>;

class tls_server_session {
public:
    enum class result : std::uint8_t {
        ok,     // carry on (more input may be needed)
        closed, // the client sent close_notify
        failed, // a TLS error: see error(); any alert for the client is in the output
    };

    // Throws std::bad_alloc when OpenSSL cannot allocate the session.
    explicit tls_server_session(std::shared_ptr<const tls_server_context> context);
    ~tls_server_session();
    tls_server_session(const tls_server_session&) = delete;
    tls_server_session& operator=(const tls_server_session&) = delete;

    // Takes ciphertext from the client; appends what it decrypts to `plain`. Handshake records
    // and alerts to send are added to the output.
    [[nodiscard]] result receive(std::string_view cipher, std::string& plain);
    // Encrypts the bytes the iovecs point at (the shard's queued frames) into the output, in one
    // batch. Only once established. False on a TLS failure (see error()).
    [[nodiscard]] bool encrypt(const iovec* iov, unsigned count);
    // Queues close_notify: the last thing a closing connection sends.
    void close_notify();
    // Replaces the output with plain bytes (the answer to plain HTTP sent to the TLS port).
    void replace_output(std::string_view plain);

    // Output not yet sent: the piece to send next (the rest of what is in flight after a short
    // send, else everything produced since). Empty when there is none.
    [[nodiscard]] bool has_output() const noexcept { return sent_ < in_flight_.size() || !pending_.empty(); }
    [[nodiscard]] std::string_view next_output();
    // The kernel took `bytes` of what next_output() returned.
    void consume(std::size_t bytes) noexcept;

    [[nodiscard]] bool established() const noexcept { return established_; }
    [[nodiscard]] bool notify_sent() const noexcept { return notify_sent_; }
    // A TLS error ended the session: nothing more can be encrypted or decrypted.
    [[nodiscard]] bool broken() const noexcept { return broken_; }
    // Why receive() or encrypt() failed, for the log ("no shared cipher", ...).
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    // The failure was plain HTTP (or a plain WebSocket upgrade) sent to the TLS port.
    [[nodiscard]] bool plain_http() const noexcept { return plain_http_; }
    // The negotiated protocol and cipher, for --debug ("TLSv1.3 TLS_AES_256_GCM_SHA384").
    [[nodiscard]] std::string describe() const;

private:
    friend struct session_bio;
    result handshake(std::string& plain);
    result read_all(std::string& plain);
    result fail(int rc);

    std::shared_ptr<const tls_server_context> context_;
    SSL* ssl_ = nullptr;
    std::string_view input_; // the ciphertext receive() is handling (the BIO reads from it)
    std::string pending_;    // output produced since the last send began
    std::string in_flight_;  // output being sent: stable until fully sent
    std::size_t sent_ = 0;   // bytes of in_flight_ the kernel has taken
    std::string error_;
    bool established_ = false;
    bool notify_sent_ = false;
    bool plain_http_ = false;
    bool broken_ = false;
};

} // namespace ringcast::net
