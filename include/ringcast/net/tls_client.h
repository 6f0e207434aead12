// TLS client sessions as OpenSSL over memory BIOs: whoever owns the socket (an io_uring loop)
// carries the ciphertext, so TLS adds no blocking I/O and no thread. Received bytes go in with
// receive(), bytes to send come out of take_output(). Used by the webhook sender for https
// targets and by the bench's clients (`--tls`).
//
// Ownership: a tls_context is created once and shared read-only by every thread (an SSL_CTX may
// be used by many threads once configured); each tls_session belongs to the thread that owns
// its connection.
#pragma once

#include <memory>
#include <openssl/types.h>
#include <string>
#include <string_view>

namespace ringcast::net {

class tls_context {
public:
    // `insecure`: accept any certificate (self-signed test setups). Otherwise the server's
    // certificate must chain to `ca_file` (or, when empty, the system's trusted roots) and name
    // the host connected to.
    [[nodiscard]] static std::unique_ptr<tls_context> create(bool insecure, const std::string& ca_file,
                                                             std::string& error);
    ~tls_context();
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;

    [[nodiscard]] SSL_CTX* get() const noexcept { return ctx_; }
    [[nodiscard]] bool verifies() const noexcept { return verify_; }

private:
    tls_context() = default;
    SSL_CTX* ctx_ = nullptr;
    bool verify_ = true;
};

class tls_session {
public:
    tls_session() = default;
    ~tls_session();
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    // Begins the client handshake (SNI and, when verifying, the host name check use `host`);
    // the ClientHello is then waiting in take_output().
    [[nodiscard]] bool start(const tls_context& context, const std::string& host);
    // Takes ciphertext from the server and appends the plaintext it decrypts to `plain`. False on
    // a TLS failure (bad certificate, alert, close_notify): see error().
    [[nodiscard]] bool receive(std::string_view cipher, std::string& plain);
    // Encrypts `plain`; before the handshake has finished it is held back and sent right after.
    [[nodiscard]] bool send(std::string_view plain);
    // Appends the ciphertext waiting to be sent to `out`.
    void take_output(std::string& out);

    [[nodiscard]] bool established() const noexcept { return established_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
    bool fail(const char* where, int rc);
    bool drive_handshake();

    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;  // ciphertext from the server (SSL reads it)
    BIO* out_ = nullptr; // ciphertext for the server (SSL writes it)
    bool established_ = false;
    std::string held_; // plaintext queued before the handshake finished
    std::string error_;
};

} // namespace ringcast::net
