// The receive side of a bench connection: the upgrade response, WebSocket frames, the Pusher
// handshake messages, and the per-event work (stamp, bitmap, latency) that must stay minimal.
#include "client_worker.h"

#include "client_requests.h"
#include "clock.h"

#include <algorithm>

namespace ringcast::bench {

namespace {

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& ch : out) {
        if (ch >= 'A' && ch <= 'Z') {
            ch = static_cast<char>(ch - 'A' + 'a');
        }
    }
    return out;
}

} // namespace

void client_worker::on_bytes(std::uint32_t index, std::string_view data) {
    connection& c = conns_[index];
    if (c.st == state::upgrading) {
        on_upgrade_response(index, data);
        return;
    }
    if (c.partial.empty()) {
        std::size_t used = on_frames(index, data);
        if (used < data.size() && c.st != state::closing && c.st != state::closed) {
            c.partial.assign(data.substr(used));
        }
        return;
    }
    // A frame straddled two receives: complete just that frame from the front of `data` (copying
    // one frame, not the whole read), then go on with the rest of `data` in place.
    while (!c.partial.empty() && !data.empty()) {
        std::size_t whole = frame_length(c.partial);
        // While the header is incomplete, take enough for the longest header (10 bytes); extra
        // bytes are simply the next frame's start and are handled the same way.
        std::size_t want = whole == 0 ? 10 : whole - std::min(whole, c.partial.size());
        std::size_t take = std::min(std::max<std::size_t>(want, 1), data.size());
        c.partial.append(data.substr(0, take));
        data.remove_prefix(take);
        std::string pending;
        pending.swap(c.partial);
        std::size_t used = on_frames(index, pending);
        if (c.st == state::closing || c.st == state::closed) {
            return;
        }
        c.partial.assign(std::string_view(pending).substr(used));
    }
    if (!data.empty()) {
        on_bytes(index, data);
    }
}

void client_worker::on_upgrade_response(std::uint32_t index, std::string_view data) {
    connection& c = conns_[index];
    c.partial.append(data);
    std::size_t end = c.partial.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (c.partial.size() > 16384) {
            fail(index, "upgrade: response headers too long");
        }
        return;
    }
    std::string head = lowercase(std::string_view(c.partial).substr(0, end + 2));
    if (!head.starts_with("http/1.1 101")) {
        std::size_t eol = c.partial.find("\r\n");
        fail(index, "upgrade refused: " + c.partial.substr(0, std::min<std::size_t>(eol, 64)));
        return;
    }
    std::size_t at = head.find("\r\nsec-websocket-accept:");
    if (at == std::string::npos) {
        fail(index, "upgrade: no Sec-WebSocket-Accept");
        return;
    }
    std::size_t value = at + 23;
    while (value < head.size() && head[value] == ' ') {
        ++value;
    }
    std::size_t value_end = head.find("\r\n", value);
    // Compare against the original bytes: base64 is case-sensitive.
    std::string_view got = std::string_view(c.partial).substr(value, value_end - value);
    while (!got.empty() && (got.back() == ' ' || got.back() == '\t')) {
        got.remove_suffix(1);
    }
    if (got != c.accept) {
        fail(index, "upgrade: wrong Sec-WebSocket-Accept");
        return;
    }
    std::string rest = c.partial.substr(end + 4);
    c.partial.clear();
    c.accept.clear();
    c.accept.shrink_to_fit();
    c.st = state::awaiting_established;
    if (!rest.empty()) {
        on_bytes(index, rest);
    }
}

std::size_t client_worker::on_frames(std::uint32_t index, std::string_view data) {
    connection& c = conns_[index];
    std::size_t offset = 0;
    while (offset < data.size()) {
        ws_frame frame;
        std::size_t used = 0;
        frame_status status = read_frame(data.substr(offset), frame, used);
        if (status == frame_status::need_more) {
            break;
        }
        if (status == frame_status::bad) {
            fail(index, "bad WebSocket frame from server");
            return data.size();
        }
        offset += used;
        if (config_.mode == client_mode::raw) {
            ++result_.deliveries;
            ++pending_delivered_;
            continue;
        }
        switch (frame.opcode) {
        case ws_opcode::text:
            if (frame.fin && c.message.empty()) {
                on_text(index, frame.payload);
            } else {
                c.message.assign(frame.payload);
            }
            break;
        case ws_opcode::continuation:
            c.message.append(frame.payload);
            if (frame.fin) {
                std::string whole;
                whole.swap(c.message);
                on_text(index, whole);
            }
            break;
        case ws_opcode::ping:
            queue_frame(c, ws_opcode::pong, frame.payload);
            break;
        case ws_opcode::close: {
            unsigned code = frame.payload.size() >= 2 ? (static_cast<unsigned char>(frame.payload[0]) << 8) |
                                                            static_cast<unsigned char>(frame.payload[1])
                                                      : 1005;
            fail(index, "close frame " + std::to_string(code));
            return data.size();
        }
        default:
            ++result_.other_messages;
            break;
        }
        if (c.st == state::closing || c.st == state::closed) {
            return data.size();
        }
    }
    return offset;
}

void client_worker::on_text(std::uint32_t index, std::string_view payload) {
    connection& c = conns_[index];
    // awaiting_also_subscribed: the first channel's events may already arrive.
    if (c.st == state::subscribed || c.st == state::awaiting_also_subscribed) {
        if (config_.peers.mode == peer_mode::presence) {
            on_presence_message(index, payload);
            return;
        }
        stamp s;
        if (find_stamp(payload, s)) {
            on_stamp(c, index, s.seq, s.t_ns);
            return;
        }
        if (c.st == state::subscribed) {
            on_control(c, payload);
            return;
        }
    }
    std::string_view name = event_name(payload);
    if (c.st == state::awaiting_established) {
        if (name == "pusher:connection_established") {
            on_connection_established(index, payload);
        } else if (name == "pusher:error") {
            fail(index, "pusher:error before connection_established: " + std::string(payload.substr(0, 120)));
        }
        return;
    }
    if (c.st == state::awaiting_subscribed || c.st == state::awaiting_also_subscribed) {
        if (name == "pusher_internal:subscription_succeeded") {
            on_subscription_succeeded(index, payload);
        } else if (name == "pusher:subscription_error" || name == "pusher:error") {
            fail(index, std::string(name) + ": " + std::string(payload.substr(0, 120)));
        }
    }
}

void client_worker::on_subscription_succeeded(std::uint32_t index, std::string_view payload) {
    connection& c = conns_[index];
    if (c.st == state::awaiting_subscribed && config_.peers.mode == peer_mode::churn) {
        ++result_.churn_joined; // its first channel is the presence channel
    }
    if (c.st == state::awaiting_subscribed && !config_.channels.also_channel.empty()) {
        c.st = state::awaiting_also_subscribed;
        subscribe(index, config_.channels.also_channel);
        return;
    }
    c.st = state::subscribed;
    result_.connect_latency.record(now_ns_ - c.started_ns);
    on_established(c);
    if (config_.peers.mode == peer_mode::presence) {
        check_presence(index, payload);
    }
    if (config_.peers.mode == peer_mode::churn) {
        c.leave_at_ns = now_ns_ + config_.peers.stay_ns;
    }
}

void client_worker::subscribe(std::uint32_t index, const std::string& channel) {
    connection& c = conns_[index];
    const bool sign = channel.starts_with("private-") || channel.starts_with("presence-");
    std::string member;
    if (config_.peers.mode == peer_mode::presence) {
        member = presence_member("o" + std::to_string(global(index)), 0, now_ns_);
    } else if (channel.starts_with("presence-")) {
        // No stamp in user_info: members' data reaches every subscriber in member_added, and a
        // stamp there would be taken for a published event.
        std::string id = (config_.peers.mode == peer_mode::churn ? "c" : "s") + std::to_string(global(index));
        if (config_.peers.mode == peer_mode::churn) {
            id += "-" + std::to_string(result_.attempted); // a new member every time the slot reconnects
        }
        member = R"({"user_id":")" + id + R"(","user_info":{}})";
    }
    queue_text(c, subscribe_message(*config_.server, c.socket_id, channel, sign, member));
}

void client_worker::on_connection_established(std::uint32_t index, std::string_view payload) {
    connection& c = conns_[index];
    const layout& channels = config_.channels;
    std::string_view socket_id = find_socket_id(payload);
    if (channels.needs_auth() && socket_id.empty()) {
        fail(index, "connection_established without a socket_id");
        return;
    }
    if (config_.peers.mode == peer_mode::presence && !is_observer(index)) {
        // A churner: established once connected; it joins and leaves on the paced schedule.
        c.socket_id = socket_id;
        c.st = state::subscribed;
        result_.connect_latency.record(now_ns_ - c.started_ns);
        on_established(c);
        return;
    }
    c.socket_id = socket_id;
    c.st = state::awaiting_subscribed;
    subscribe(index, channels.channel_of(global(index)));
}

void client_worker::on_control(connection& c, std::string_view payload) {
    std::string_view name = event_name(payload);
    if (name == "pusher:ping") {
        queue_text(c, R"({"event":"pusher:pong","data":{}})");
    } else if (name == "pusher:error") {
        if (result_.pusher_errors++ == 0) {
            result_.first_pusher_error.assign(payload.substr(0, 200));
        }
    } else if (config_.peers.mode == peer_mode::none &&
               (name == "pusher_internal:member_added" || name == "pusher_internal:member_removed")) {
        // soak: the stable clients count the churners ("c…" members) coming and going.
        char kind = 0;
        std::uint32_t user = 0;
        if (find_user(payload, kind, user) && kind == 'c') {
            ++(name == "pusher_internal:member_added" ? result_.member_added : result_.member_removed);
        } else {
            ++result_.other_messages;
        }
    } else {
        ++result_.other_messages;
    }
}

void client_worker::on_established(connection& c) {
    c.established = true;
    ++result_.established;
    control_.established.fetch_add(1, std::memory_order_relaxed);
    --in_progress_;
    if (result_.first_established_ns == 0) {
        result_.first_established_ns = now_ns_;
    }
    result_.last_established_ns = now_ns_;
}

void client_worker::on_stamp(connection& c, std::uint32_t index, std::uint64_t seq, std::uint64_t t_ns) {
    if (config_.peers.mode == peer_mode::churn) {
        ++result_.churn_events_seen; // churners come and go: what they miss is not a loss
        return;
    }
    if (words_per_connection_ == 0) {
        ++result_.deliveries;
        return;
    }
    if (config_.peers.mode == peer_mode::whisper) {
        // A whisper's seq is (sender's count) x group size + sender's slot: its own slot means
        // the server sent the event back to its sender, which the protocol forbids (spec §1.10).
        if (seq % config_.channels.per_event == config_.channels.slot_of(global(index))) {
            ++result_.echoed;
            return;
        }
    } else if (config_.channels.group_of_event(seq) != c.group) {
        ++result_.unexpected;
        return;
    }
    if (seq >= config_.max_events) {
        ++result_.unexpected;
        return;
    }
    std::uint64_t& word = bits_[index * words_per_connection_ + seq / 64];
    std::uint64_t bit = 1ULL << (seq % 64);
    if ((word & bit) != 0) {
        ++result_.duplicates;
        return;
    }
    word |= bit;
    if (seq < c.next_seq) {
        ++result_.out_of_order;
    } else {
        c.next_seq = seq + 1;
    }
    record_delivery(t_ns);
}

void client_worker::record_delivery(std::uint64_t t_ns) {
    ++result_.deliveries;
    ++pending_delivered_;
    // The stamp was taken on this machine's monotonic clock: arrival minus stamp is the delivery
    // latency, with the receive loop's own delay included (as a real client would see it).
    std::uint64_t now = now_ns();
    result_.delivery_latency.record(now > t_ns ? now - t_ns : 0);
    result_.last_delivery_ns = now;
}

} // namespace ringcast::bench
