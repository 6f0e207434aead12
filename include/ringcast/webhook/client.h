// Webhooks, part 3: one keep-alive HTTP/1.1 connection to one target, driven by the webhook
// thread's io_uring (connect, send and receive are ring operations; https is OpenSSL over memory
// BIOs, net/tls_client.h). It sends one request at a time and reports the answer's status, or
// why there is none, through the callback. A connection that has timed out or failed is shut
// down at once; its ring operations finish later against a detached socket record that is freed
// when the last of them completes, so nothing the kernel still writes into is freed early.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/ring.h"
#include "ringcast/net/tls_client.h"

#include <llhttp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ringcast::webhook {

class client {
public:
    // status: the HTTP status (0 when there is none); error: why, when status is 0.
    using done_fn = std::function<void(int status, const std::string& error)>;

    client(const config::webhook_target& target, const net::tls_context* tls, done_fn done);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Sends `request` (a whole HTTP request), connecting first when no connection is open.
    void start(net::ring& r, std::string request, std::uint64_t now_ms, std::uint32_t connect_timeout_ms,
               std::uint32_t request_timeout_ms);
    // A completion whose user_data came from this client's submissions (see dispatcher).
    static void on_completion(void* tag, int res, std::uint64_t now_ms);
    // Fails the request in progress when its deadline has passed.
    void check_deadline(std::uint64_t now_ms);
    // When the request in progress times out (UINT64_MAX: none).
    [[nodiscard]] std::uint64_t deadline() const noexcept { return busy_ ? deadline_ms_ : UINT64_MAX; }
    [[nodiscard]] bool busy() const noexcept { return busy_; }
    // Sockets of this thread not yet freed (open, or detached awaiting their completions).
    [[nodiscard]] static unsigned live_sockets() noexcept;

private:
    struct socket_io;
    enum class op : std::uintptr_t { connect = 1, send = 2, recv = 3 };

    void open(std::uint64_t now_ms);
    void on_connected(int res, std::uint64_t now_ms);
    void on_sent(int res);
    void on_received(int res);
    void queue_output(std::string_view plain);
    void flush();
    void post_recv();
    void feed(std::string_view plain);
    void finish(int status, const std::string& error);
    void drop_socket();
    static int on_message_complete(llhttp_t* p);

    config::webhook_target target_;
    const net::tls_context* tls_;
    done_fn done_;
    net::ring* ring_ = nullptr;
    socket_io* sock_ = nullptr; // the open connection, or null
    std::string request_;
    bool busy_ = false;
    bool reused_ = false; // the request went out on a connection a previous one used
    bool got_response_bytes_ = false;
    std::uint32_t request_timeout_ms_ = 0;
    std::uint64_t deadline_ms_ = 0;
    llhttp_t parser_{};
    llhttp_settings_t settings_{};
    int status_ = 0;
    bool complete_ = false;
};

} // namespace ringcast::webhook
