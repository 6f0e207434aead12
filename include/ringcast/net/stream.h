// An outgoing TCP connection driven by a ring that its owner polls: connect, ordered writes,
// one receive always in flight, and optional TLS (tls_client.h) between the bytes and the
// owner. The webhook client and the Redis client are built on it.
//
// The ring operations of a connection hold a record the kernel writes into (the receive buffer,
// the bytes being sent). close() detaches the record at once: no more events reach the owner,
// the kernel's operations are cancelled, and the last of their completions frees it. So an owner
// may close or destroy a stream at any moment, including from inside one of its events.
//
// Completions: the owner's loop hands every completion whose user_data has a low-bit tag in
// 1..3 (stream::is_stream_tag) to stream::on_completion. A user_data of 0 is a cancellation's
// own completion, to be ignored.
#pragma once

#include "ringcast/net/ring.h"
#include "ringcast/net/tls_client.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::net {

class stream {
public:
    class events {
    public:
        virtual ~events() = default;
        virtual void on_connected() = 0;
        // Plaintext received (decrypted when TLS is on).
        virtual void on_data(std::string_view data) = 0;
        // The connection failed or the peer closed it; the stream is closed already.
        virtual void on_closed(const std::string& why) = 0;
    };

    explicit stream(events& owner) : owner_(owner) {}
    ~stream() { close(); }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    // Starts connecting (the host name is resolved here, blocking, with getaddrinfo). With `tls`,
    // the handshake follows the connect and verifies the certificate names `host`. False (and
    // `error`) when it cannot even start; otherwise on_connected or on_closed follows.
    bool open(ring& r, const std::string& host, std::uint16_t port, const tls_context* tls,
              std::string& error);
    // Queues bytes; they leave in order once connected (TLS: after the handshake).
    void write(std::string_view data);
    void close() noexcept;

    [[nodiscard]] bool is_open() const noexcept { return io_ != nullptr; }
    [[nodiscard]] bool connected() const noexcept;

    static void on_completion(void* tag, int res);
    [[nodiscard]] static bool is_stream_tag(std::uintptr_t tag) noexcept {
        return tag >= 4096 && (tag & 7) >= 1 && (tag & 7) <= 3;
    }
    // Records of this thread not yet freed (open, or closed and awaiting completions).
    [[nodiscard]] static unsigned live() noexcept;
    // Before a thread lets its ring go: runs the ring (up to `limit_ms`) until the kernel has
    // handed back every record of this thread's closed streams. Other completions are dropped.
    static void drain(ring& r, std::uint64_t limit_ms);

private:
    struct io;
    void on_connect_done(int res);
    void on_send_done(int res);
    void on_recv_done(int res);
    void flush();
    void post_recv();
    void fail(std::string why); // by value: `why` may live in the record close() frees

    events& owner_;
    ring* ring_ = nullptr;
    io* io_ = nullptr;
    std::uint64_t generation_ = 0; // counts closes, so an event can tell it closed the stream
};

} // namespace ringcast::net
