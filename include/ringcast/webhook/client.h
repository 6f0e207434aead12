// Webhooks, part 3: one keep-alive HTTP/1.1 connection to one target, on the webhook thread's
// ring (net/stream.h: connect, send and receive are ring operations; https is OpenSSL over
// memory BIOs). It sends one request at a time and reports the answer's status, or why there is
// none, through the callback.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/ring.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/tls_client.h"

#include <llhttp.h>

#include <cstdint>
#include <functional>
#include <string>

namespace ringcast::webhook {

class client final : private net::stream::events {
public:
    // status: the HTTP status (0 when there is none); error: why, when status is 0.
    using done_fn = std::function<void(int status, const std::string& error)>;

    client(const config::webhook_target& target, const net::tls_context* tls, done_fn done);
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Sends `request` (a whole HTTP request), connecting first when no connection is open.
    void start(net::ring& r, std::string request, std::uint64_t now_ms, std::uint32_t connect_timeout_ms,
               std::uint32_t request_timeout_ms);
    // Fails the request in progress when its deadline has passed.
    void check_deadline(std::uint64_t now_ms);
    // When the request in progress times out (UINT64_MAX: none).
    [[nodiscard]] std::uint64_t deadline() const noexcept { return busy_ ? deadline_ms_ : UINT64_MAX; }
    [[nodiscard]] bool busy() const noexcept { return busy_; }

private:
    void on_connected() override;
    void on_data(std::string_view data) override;
    void on_closed(const std::string& why) override;
    void connect();
    void finish(int status, const std::string& error);
    static int on_message_complete(llhttp_t* p);

    config::webhook_target target_;
    const net::tls_context* tls_;
    done_fn done_;
    net::ring* ring_ = nullptr;
    net::stream stream_{*this};
    std::string request_;
    bool busy_ = false;
    bool reused_ = false; // the request went out on a connection an earlier one used
    bool got_response_bytes_ = false;
    std::uint32_t request_timeout_ms_ = 0;
    std::uint64_t now_ms_ = 0;
    std::uint64_t deadline_ms_ = 0;
    llhttp_t parser_{};
    llhttp_settings_t settings_{};
    int status_ = 0;
    bool complete_ = false;
};

} // namespace ringcast::webhook
