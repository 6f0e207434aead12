// Per-shard Pusher state: apps, local channel membership, publish fan-out.
#include "ringcast/pusher/context.h"

#include "ringcast/core/log.h"
#include "ringcast/pusher/codes.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/session.h"
#include "ringcast/ws/frame_encoder.h"

#include <algorithm>
#include <random>

namespace ringcast::pusher {

namespace {
std::uint64_t os_seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}
} // namespace

namespace {
// The parser's memory is bounded by the largest document anyone may send us. (Passed to the
// constructor: simdjson 3.0.1's set_max_capacity() clamps every value down to 32 bytes.)
std::size_t largest_document(const config::server& settings) {
    std::size_t largest = settings.max_body_bytes;
    for (const auto& a : settings.apps) {
        largest = std::max<std::size_t>(largest, a.max_message_size);
    }
    return largest + 64;
}
} // namespace

context::context(shard::shard& owner, const config::server& settings)
    : shard_(owner), settings_(settings), channels_(settings.apps.size()), ids_(os_seed()),
      json_(largest_document(settings)) {
    shard_.set_overload_frame(
        ws::close_frame(value(code::over_capacity), "Over capacity: the client is not reading"));
}

context::~context() = default;

int context::find_app_by_key(std::string_view key) const noexcept {
    for (size_t i = 0; i < settings_.apps.size(); ++i) {
        if (settings_.apps[i].key == key) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

int context::find_app_by_id(std::string_view id) const noexcept {
    for (size_t i = 0; i < settings_.apps.size(); ++i) {
        if (settings_.apps[i].id == id) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

unsigned context::owner_of(std::uint32_t app, std::string_view channel) const noexcept {
    size_t h = std::hash<std::string_view>{}(channel) ^ (static_cast<size_t>(app) * 0x9e3779b97f4a7c15ULL);
    return static_cast<unsigned>(h % shard_.count());
}

session& context::open_session(shard::conn& c, std::uint32_t app) {
    std::string id = ids_.next();
    while (by_socket_id_.contains(id)) {
        id = ids_.next();
    }
    auto* s = new session(*this, c, app, id);
    by_socket_id_.emplace(s->socket_id(), s);
    return *s;
}

void context::close_session(session& s) {
    s.leave_all();
    by_socket_id_.erase(s.socket_id());
    delete &s;
}

local_channel& context::join(std::uint32_t app, std::string_view channel, session& s) {
    auto& map = channels_[app];
    auto it = map.find(channel);
    if (it == map.end()) {
        it = map.emplace(std::string(channel), local_channel{std::string(channel), app, {}}).first;
    }
    it->second.members.push_back(&s);
    return it->second;
}

void context::leave(local_channel& ch, std::uint32_t index) {
    session* moved = ch.members.back();
    ch.members[index] = moved;
    ch.members.pop_back();
    if (index < ch.members.size()) {
        for (auto& sub : moved->subscriptions()) {
            if (sub.channel == &ch) {
                sub.index = index;
                break;
            }
        }
    }
    if (ch.members.empty()) {
        channels_[ch.app].erase(ch.name);
    }
}

void context::publish_local(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                            std::string_view except_socket_id) {
    auto& map = channels_[app];
    auto it = map.find(channel);
    if (it == map.end()) {
        return;
    }
    session* except = nullptr;
    if (!except_socket_id.empty()) {
        auto e = by_socket_id_.find(except_socket_id);
        if (e != by_socket_id_.end()) {
            except = e->second;
        }
    }
    for (session* s : it->second.members) {
        if (s != except) {
            shard_.send(s->connection(), frame);
        }
    }
}

void context::publish(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                      std::string_view except_socket_id) {
    // Deliver earlier publishes from other shards first, so a publisher that waits for each
    // answer sees its events arrive in order wherever the requests landed.
    shard_.drain_mail();
    if (core::debugging()) {
        std::string_view p = payload_of(*frame);
        RC_LOG_DEBUG("publish app %s: %.*s", settings_.apps[app].id.c_str(), static_cast<int>(p.size()),
                     p.data());
    }
    publish_local(app, channel, frame, except_socket_id);
    for (unsigned t = 0; t < shard_.count(); ++t) {
        if (t == shard_.index()) {
            continue;
        }
        auto m = std::make_unique<publish_mail>();
        m->app = app;
        m->channel = std::string(channel);
        m->frame = frame;
        m->except_socket_id = std::string(except_socket_id);
        shard_.post(t, std::move(m));
    }
}

void context::on_mail(shard::mail& m) {
    if (auto* p = dynamic_cast<publish_mail*>(&m)) {
        publish_local(p->app, p->channel, p->frame, p->except_socket_id);
    }
}

} // namespace ringcast::pusher
