// A small blocking client for the doctor's checks: one TCP (optionally TLS) connection with
// timeouts, an HTTP request and its answer, a WebSocket handshake and its first frame. The
// doctor is a one-shot command line tool: blocking calls keep it short and obvious.
#pragma once

#include "ringcast/core/status.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ringcast::doctor {

struct http_answer {
    int status = 0;
    std::string head; // status line and headers
    std::string body;
};

class probe {
public:
    ~probe();
    probe(const probe&) = delete;
    probe& operator=(const probe&) = delete;

    // Connects within a few seconds; with `tls`, completes a TLS handshake and records in
    // tls_problem() why the certificate is not valid for `host` (empty when it is). Fails with
    // the reason (connection refused, timed out, no such host, TLS handshake failed).
    static core::result<std::unique_ptr<probe>> open(const std::string& host, std::uint16_t port, bool tls);

    [[nodiscard]] const std::string& tls_problem() const noexcept { return tls_problem_; }

    // Sends `request` and reads one answer (headers and a Content-Length body).
    [[nodiscard]] core::result<http_answer> http(const std::string& request);
    // After a 101 answer: the text of the first WebSocket frame the server sends.
    [[nodiscard]] core::result<std::string> first_frame();

private:
    probe() = default;
    core::status send_all(const std::string& bytes);
    // Appends what arrives to buffer_; false at the end of the stream or on a timeout.
    bool receive();

    int fd_ = -1;
    void* ctx_ = nullptr; // SSL_CTX*, kept out of this header
    void* ssl_ = nullptr; // SSL*
    std::string tls_problem_;
    std::string buffer_;
};

} // namespace ringcast::doctor
