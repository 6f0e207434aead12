// A Redis connection on a ring: handshake, pipelined replies in order, pub/sub, reconnects.
#include "ringcast/redis/connection.h"

#include <algorithm>
#include <limits>

namespace ringcast::redis {

namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

// A reply the connection could not get: what every waiting callback receives when it is lost.
value lost_reply(const std::string& why) {
    value v;
    v.type = kind::error;
    v.text = "connection lost: " + why;
    return v;
}

bool is_message(const value& v) {
    if ((v.type != kind::array && v.type != kind::push) || v.elements.empty() || !v.elements[0].is_string()) {
        return false;
    }
    const std::string& k = v.elements[0].text;
    return k == "message" || k == "smessage" || k == "pmessage";
}

} // namespace

connection::connection(const config::redis_settings& settings, const net::tls_context* tls, role r,
                       callbacks cb)
    : settings_(settings), tls_(tls), role_(r), cb_(std::move(cb)) {}

void connection::start(net::ring& r, std::uint64_t now_ms) {
    ring_ = &r;
    now_ms_ = now_ms;
    stopped_ = false;
    open();
}

void connection::open() {
    reconnect_at_ms_ = 0;
    in_.clear();
    std::string error;
    if (!stream_.open(*ring_, settings_.host, settings_.port, settings_.tls ? tls_ : nullptr, error)) {
        lose(error);
        return;
    }
    handshake_due_ms_ = now_ms_ + handshake_timeout_ms;
}

void connection::on_connected() {
    handshake();
}

void connection::handshake() {
    auto check = [this](const char* what) {
        return [this, what](const value& v) {
            if (v.is_error() && !v.text.starts_with("connection lost")) {
                stream_.close();
                lose(std::string(what) + ": " + v.text);
            }
        };
    };
    if (!settings_.password.empty()) {
        if (settings_.username.empty()) {
            send(std::initializer_list<std::string_view>{"AUTH", settings_.password}, check("AUTH"));
        } else {
            send(std::initializer_list<std::string_view>{"AUTH", settings_.username, settings_.password},
                 check("AUTH"));
        }
    }
    if (settings_.db != 0) {
        std::string db = std::to_string(settings_.db);
        send(std::initializer_list<std::string_view>{"SELECT", db}, check("SELECT"));
    }
    // The PING's answer means everything before it succeeded.
    send(std::initializer_list<std::string_view>{"PING"}, [this](const value& v) {
        if (v.is_error()) {
            return;
        }
        ready_ = true;
        handshake_due_ms_ = 0;
        backoff_ms_ = first_backoff_ms;
        last_error_.clear();
        if (cb_.ready) {
            cb_.ready();
        }
    });
}

void connection::send(std::span<const std::string_view> args, reply_fn reply) {
    std::string out;
    append_command(out, args);
    pending_.push_back(std::move(reply));
    stream_.write(out);
}

bool connection::command(std::span<const std::string_view> args, reply_fn reply) {
    if (!ready_ || pending_.size() >= max_pending) {
        return false;
    }
    send(args, std::move(reply));
    return true;
}

void connection::on_data(std::string_view data) {
    in_.append(data);
    limits l;
    std::size_t used = 0;
    while (used < in_.size()) {
        value v;
        parse_result r = parse(std::string_view(in_).substr(used), v, l);
        if (r.status == parse_status::incomplete) {
            break;
        }
        if (r.status == parse_status::invalid) {
            stream_.close();
            lose("not a Redis reply: " + r.error);
            return;
        }
        used += r.consumed;
        deliver(v);
        if (!stream_.is_open()) {
            return; // closed by a callback
        }
    }
    in_.erase(0, used);
}

void connection::deliver(value& v) {
    if (role_ == role::subscriber && is_message(v)) {
        if (cb_.message) {
            cb_.message(v);
        }
        return;
    }
    if (v.type == kind::push) {
        return; // RESP3 notices nobody asked for
    }
    if (pending_.empty()) {
        stream_.close();
        lose("a reply nobody asked for");
        return;
    }
    reply_fn reply = std::move(pending_.front());
    pending_.pop_front();
    if (reply) {
        reply(v);
    }
}

void connection::on_closed(const std::string& why) {
    lose(why);
}

void connection::lose(const std::string& why) {
    ready_ = false;
    handshake_due_ms_ = 0;
    last_error_ = why;
    std::deque<reply_fn> waiting;
    waiting.swap(pending_);
    value gone = lost_reply(why);
    for (reply_fn& r : waiting) {
        if (r) {
            r(gone);
        }
    }
    if (stopped_) {
        return;
    }
    reconnect_at_ms_ = now_ms_ + backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, max_backoff_ms);
    if (cb_.lost) {
        cb_.lost(why);
    }
}

void connection::tick(std::uint64_t now_ms) {
    now_ms_ = now_ms;
    if (stopped_) {
        return;
    }
    if (handshake_due_ms_ != 0 && now_ms >= handshake_due_ms_) {
        stream_.close();
        lose("no answer from Redis within " + std::to_string(handshake_timeout_ms) + " ms");
        return;
    }
    if (reconnect_at_ms_ != 0 && now_ms >= reconnect_at_ms_) {
        open();
    }
}

std::uint64_t connection::next_due() const noexcept {
    std::uint64_t due = never;
    if (handshake_due_ms_ != 0) {
        due = handshake_due_ms_;
    }
    if (reconnect_at_ms_ != 0) {
        due = std::min(due, reconnect_at_ms_);
    }
    return due;
}

void connection::stop() {
    stopped_ = true;
    stream_.close();
    lose("stopped");
}

} // namespace ringcast::redis
