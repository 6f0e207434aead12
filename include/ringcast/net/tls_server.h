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
// Sending, two ways:
// - Kernel TLS (kTLS), where the kernel has a tls module and OpenSSL the cipher: the shard
//   attaches the kernel's tls layer to the socket at accept and offers the session kernel
//   sending. After the handshake OpenSSL hands its sending keys to our BIO (BIO_CTRL_SET_KTLS);
//   the BIO keeps them, and the shard gives them to the kernel (setsockopt TLS_TX) only once
//   every byte OpenSSL encrypted before them has been sent and no send is in flight, so the
//   kernel's first record follows the last one of ours. From then on the write queue's frames
//   (the shared, encode-once buffers) go to the socket as they are and the kernel encrypts them:
//   no copy, no encryption on the shard. OpenSSL's own later records (TLS 1.3 session tickets,
//   TLS 1.2's Finished, alerts, close_notify) reach our BIO as plaintext with their record type;
//   they wait in a list of their own until the kernel has the keys, and the shard then sends each
//   with its type as a control message (TLS_SET_RECORD_TYPE). Receiving stays in user
//   space (SSL_read over our BIO): client messages are few and small, and a client's TLS 1.3
//   KeyUpdate changes only keys we read with. One asking us to update ours goes unanswered:
//   OpenSSL answers with its next SSL_write, which kernel TLS never makes, and the client goes
//   on reading our old keys (it must, until our KeyUpdate comes). Should OpenSSL ever hand over
//   new sending keys, the kernel could not take them mid-session: the session fails and the
//   connection is closed. A connection on which any step is refused (the tls layer, a
//   cipher the kernel lacks) simply stays in user space.
// - In user space: plaintext for a connection is encrypted in batches: everything the shard has
//   queued for it since its last send goes into one SSL_write (one record per 16 KiB), not one
//   record per frame.
//
// Ownership: a tls_server_context is built once (and again on SIGHUP) and shared read-only by
// every shard; each session belongs to the shard that owns its connection and keeps the context
// it was made with alive, so a reload never pulls certificates from under a handshake.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/kernel_tls.h"

#include <sys/uio.h>

#include <array>
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
    // What the kernel can encrypt for this context's sessions (no cipher when kTLS is off).
    [[nodiscard]] const kernel_tls_support& kernel_tls() const noexcept { return kernel_; }
    // For the banner and --debug: "kernel TLS (...)" or "encryption in user space, ... (why)".
    [[nodiscard]] std::string describe_sending() const;

private:
    tls_server_context() = default;
    bool add_certificate(const config::tls_settings& settings, const config::tls_certificate& cert,
                         std::string& error);
    static int on_server_name(SSL* ssl, int* alert, void* self);
    SSL_CTX* context_for(std::string_view host) const noexcept;

    std::vector<SSL_CTX*> contexts_;              // [0] = the default certificate
    std::vector<std::vector<std::string>> names_; // each certificate's DNS names, lower case
    std::string min_version_;
    kernel_tls_support kernel_;
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

    // Kernel TLS (see the top). Called at accept, before any input, for a socket the kernel's
    // tls layer is attached to: OpenSSL may hand over its sending keys after the handshake if
    // the cipher is among `kernel_ciphers` (kernel_tls_support::ciphers).
    void offer_kernel_send(unsigned kernel_ciphers) noexcept;
    // OpenSSL handed the keys over: every byte sent from now on is plaintext for the kernel to
    // encrypt; encrypt() is not to be called any more.
    [[nodiscard]] bool kernel_send() const noexcept { return kernel_ != kernel_state::off; }
    // The kernel has the keys: what the write queue holds can go to the socket as it is.
    [[nodiscard]] bool kernel_on() const noexcept { return kernel_ == kernel_state::on; }
    // The keys wait for the kernel and everything encrypted before them has been sent: the
    // shard calls start_kernel_send() once no send is in flight.
    [[nodiscard]] bool kernel_switch_due() const noexcept {
        return kernel_ == kernel_state::captured && keys_size_ != 0 && !has_output();
    }
    // Gives the kernel the keys (`give`: setsockopt SOL_TLS TLS_TX on `fd`). Returns 0 or an
    // errno; the keys are wiped from our memory either way. After a failure nothing more can be
    // sent.
    [[nodiscard]] int start_kernel_send(int fd, kernel_key_taker give = give_kernel_send_keys) noexcept;
    // Replaces the output with plain bytes (the answer to plain HTTP sent to the TLS port).
    void replace_output(std::string_view plain);

    // Output not yet sent: the piece to send next (the rest of what is in flight after a short
    // send, else everything produced since). Empty when there is none.
    [[nodiscard]] bool has_output() const noexcept {
        return sent_ < in_flight_.size() || !pending_.empty() ||
               (kernel_ == kernel_state::on && !records_.empty());
    }
    [[nodiscard]] std::string_view next_output();
    // The TLS record type the kernel must give what next_output() returned (sent as a control
    // message), or 0: the bytes go as they are.
    [[nodiscard]] std::uint8_t next_record_type() const noexcept { return in_flight_type_; }
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
    // The certificates (and the kernel's abilities) this session was made with.
    [[nodiscard]] const tls_server_context& context() const noexcept { return *context_; }

private:
    friend struct session_bio;
    enum class kernel_state : std::uint8_t { off, captured, on };
    // A plaintext record OpenSSL wrote after handing its keys over, for the kernel to encrypt.
    struct record {
        std::uint8_t type;
        std::string bytes;
    };
    void write(const char* data, std::size_t len);
    bool capture_keys(bool sending, const void* crypto_info) noexcept;
    result handshake(std::string& plain);
    result read_all(std::string& plain);
    result fail(int rc);
    static bool starts_like_http(std::string_view head) noexcept;

    std::shared_ptr<const tls_server_context> context_;
    SSL* ssl_ = nullptr;
    std::string_view input_;          // the ciphertext receive() is handling (the BIO reads from it)
    std::string pending_;             // output produced since the last send began
    std::string in_flight_;           // output being sent: stable until fully sent
    std::size_t sent_ = 0;            // bytes of in_flight_ the kernel has taken
    std::uint8_t in_flight_type_ = 0; // in_flight_ is a record of this type for the kernel (0: not)
    std::vector<record> records_;     // OpenSSL's records after the keys went, in order
    std::uint8_t record_type_ = 0;    // the type OpenSSL announced for its next write (0: data)
    kernel_state kernel_ = kernel_state::off;
    unsigned kernel_ciphers_ = 0;          // offered by the shard (0: kernel TLS not offered)
    std::array<unsigned char, 64> keys_{}; // the kernel's crypto info, until it has it
    std::size_t keys_size_ = 0;
    bool key_update_refused_ = false; // OpenSSL offered new sending keys once the kernel had some
    std::string error_;
    bool established_ = false;
    bool notify_sent_ = false;
    bool plain_http_ = false;
    // The connection's first bytes, to tell a plain HTTP request OpenSSL does not name.
    std::array<char, 8> first_bytes_{};
    std::uint8_t first_len_ = 0;
    bool broken_ = false;
};

} // namespace ringcast::net
