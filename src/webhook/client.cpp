// A keep-alive HTTP/1.1 client for one webhook target (see client.h).
#include "ringcast/webhook/client.h"

namespace ringcast::webhook {

client::client(const config::webhook_target& target, const net::tls_context* tls, done_fn done)
    : target_(target), tls_(tls), done_(std::move(done)) {
    llhttp_settings_init(&settings_);
    settings_.on_message_complete = &client::on_message_complete;
}

int client::on_message_complete(llhttp_t* p) {
    auto* self = static_cast<client*>(p->data);
    int status = llhttp_get_status_code(p);
    if (status < 200) {
        return 0; // 100 Continue and friends: the real answer follows
    }
    self->status_ = status;
    self->complete_ = true;
    return HPE_PAUSED;
}

void client::start(net::ring& r, std::string request, std::uint64_t now_ms, std::uint32_t connect_timeout_ms,
                   std::uint32_t request_timeout_ms) {
    ring_ = &r;
    busy_ = true;
    request_ = std::move(request);
    request_timeout_ms_ = request_timeout_ms;
    now_ms_ = now_ms;
    status_ = 0;
    complete_ = false;
    got_response_bytes_ = false;
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    if (stream_.connected()) {
        reused_ = true;
        deadline_ms_ = now_ms + request_timeout_ms_;
        stream_.write(request_);
        return;
    }
    reused_ = false;
    deadline_ms_ = now_ms + connect_timeout_ms;
    connect();
}

void client::connect() {
    std::string error;
    if (!stream_.open(*ring_, target_.host, target_.port, target_.tls ? tls_ : nullptr, error)) {
        finish(0, error);
        return;
    }
    stream_.write(request_); // sent once connected
}

void client::on_connected() {
    deadline_ms_ = now_ms_ + request_timeout_ms_;
}

void client::on_closed(const std::string& why) {
    if (!busy_) {
        return; // the target closed an idle keep-alive connection
    }
    if (!complete_ && llhttp_finish(&parser_) == HPE_OK && complete_) {
        finish(status_, ""); // an answer delimited by the end of the connection
        return;
    }
    if (reused_ && !got_response_bytes_) {
        // The target closed the kept-alive connection as we reused it: one fresh try, uncounted.
        reused_ = false;
        connect();
        return;
    }
    finish(0, why);
}

void client::on_data(std::string_view data) {
    if (!busy_ || complete_) {
        stream_.close(); // bytes nobody asked for: the connection is no longer trustworthy
        return;
    }
    got_response_bytes_ = true;
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    if (err != HPE_OK && err != HPE_PAUSED) {
        stream_.close();
        finish(0, std::string("not an HTTP answer: ") + llhttp_errno_name(err));
        return;
    }
    if (complete_) {
        if (llhttp_should_keep_alive(&parser_) == 0) {
            stream_.close();
        }
        finish(status_, "");
    }
}

void client::finish(int status, const std::string& error) {
    busy_ = false;
    done_(status, error);
}

void client::check_deadline(std::uint64_t now_ms) {
    now_ms_ = now_ms;
    if (!busy_ || now_ms < deadline_ms_) {
        return;
    }
    bool connected = stream_.connected();
    stream_.close();
    finish(0, connected ? "no answer within " + std::to_string(request_timeout_ms_) + " ms"
                        : "connecting timed out");
}

} // namespace ringcast::webhook
