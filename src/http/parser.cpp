// llhttp callbacks that build a request and enforce header/body limits.
#include "ringcast/http/parser.h"

#include <algorithm>
#include <cctype>
#include <climits>

namespace ringcast::http {

namespace {
parser& self(llhttp_t* p) {
    return *static_cast<parser*>(p->data);
}
} // namespace

parser::parser(limits l) : limits_(l) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &parser::on_message_begin;
    settings_.on_url = &parser::on_url;
    settings_.on_header_field = &parser::on_header_field;
    settings_.on_header_value = &parser::on_header_value;
    settings_.on_headers_complete = &parser::on_headers_complete;
    settings_.on_body = &parser::on_body;
    settings_.on_message_complete = &parser::on_message_complete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
}

int parser::fail(int status, std::string message) noexcept {
    error_status_ = status;
    error_message_ = std::move(message);
    return -1; // makes llhttp stop with HPE_USER / callback error
}

bool parser::count_header_bytes(size_t len) noexcept {
    header_bytes_ += len;
    return header_bytes_ <= limits_.max_header_bytes;
}

int parser::on_message_begin(llhttp_t* p) {
    parser& s = self(p);
    s.current_ = request{};
    s.header_bytes_ = 0;
    s.in_value_ = false;
    s.started_ = true;
    s.complete_ = false;
    return 0;
}

int parser::on_url(llhttp_t* p, const char* at, size_t len) {
    parser& s = self(p);
    if (!s.count_header_bytes(len)) {
        return s.fail(431, "Request headers too large");
    }
    s.current_.target.append(at, len);
    return 0;
}

int parser::on_header_field(llhttp_t* p, const char* at, size_t len) {
    parser& s = self(p);
    if (!s.count_header_bytes(len)) {
        return s.fail(431, "Request headers too large");
    }
    if (s.in_value_ || s.current_.headers.empty()) {
        s.current_.headers.emplace_back();
        s.in_value_ = false;
    }
    std::string& name = s.current_.headers.back().first;
    size_t start = name.size();
    name.append(at, len);
    // ASCII only (field names are tokens), without the locale lookup std::tolower makes per byte.
    for (size_t i = start; i < name.size(); ++i) {
        char c = name[i];
        name[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    return 0;
}

int parser::on_header_value(llhttp_t* p, const char* at, size_t len) {
    parser& s = self(p);
    if (!s.count_header_bytes(len)) {
        return s.fail(431, "Request headers too large");
    }
    if (s.current_.headers.empty()) {
        s.current_.headers.emplace_back();
    }
    s.in_value_ = true;
    s.current_.headers.back().second.append(at, len);
    return 0;
}

int parser::on_headers_complete(llhttp_t* p) {
    parser& s = self(p);
    s.current_.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    s.current_.upgrade = p->upgrade != 0;
    s.current_.keep_alive = llhttp_should_keep_alive(p) != 0;
    if (p->content_length > s.limits_.max_body_bytes && p->content_length != ULLONG_MAX) {
        return s.fail(413, "Request body too large (limit " + std::to_string(s.limits_.max_body_bytes) +
                               " bytes)");
    }
    return 0;
}

int parser::on_body(llhttp_t* p, const char* at, size_t len) {
    parser& s = self(p);
    if (s.current_.body.size() + len > s.limits_.max_body_bytes) {
        return s.fail(413, "Request body too large (limit " + std::to_string(s.limits_.max_body_bytes) +
                               " bytes)");
    }
    s.current_.body.append(at, len);
    return 0;
}

int parser::on_message_complete(llhttp_t* p) {
    parser& s = self(p);
    s.complete_ = true;
    s.started_ = false;
    // Pausing hands control back after exactly one request, so the caller can answer it
    // before the next pipelined one is parsed (responses must keep request order).
    return HPE_PAUSED;
}

parser::result parser::feed(std::string_view input) {
    if (error_status_ != 0) {
        return {status::error, 0};
    }
    llhttp_errno_t err = llhttp_execute(&parser_, input.data(), input.size());
    if (err == HPE_OK) {
        return {status::need_more, input.size()};
    }
    size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - input.data());
    if (err == HPE_PAUSED_UPGRADE) {
        // llhttp stops right after the upgrade request's headers: the rest is WebSocket data.
        return {status::upgrade, consumed};
    }
    if (err == HPE_PAUSED && complete_) {
        complete_ = false;
        llhttp_resume(&parser_);
        if (current_.upgrade) {
            // An upgrade request without a body pauses here first; llhttp would report
            // PAUSED_UPGRADE on the next call, so finish the handshake now.
            return {status::upgrade, consumed};
        }
        return {status::request, consumed};
    }
    if (error_status_ == 0) {
        error_status_ = 400;
        error_message_ = std::string("Malformed HTTP request: ") + llhttp_errno_name(err) + " (" +
                         (llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : "") + ")";
    }
    return {status::error, consumed};
}

} // namespace ringcast::http
