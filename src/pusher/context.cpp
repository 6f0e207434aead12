// Per-shard Pusher state: apps, local channel membership, publish fan-out.
#include "ringcast/pusher/context.h"

#include "ringcast/pusher/cluster_mail.h"

#include "ringcast/core/clock.h"
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

context::context(port& io, const config::server& settings, shared_counters& counters)
    : io_(io), settings_(&settings), counters_(counters), channels_(settings.apps.size()), ids_(os_seed()),
      json_(largest_document(settings)), scratch_json_(largest_document(settings)),
      user_json_(largest_document(settings)), owned_(*this), connections_(settings.apps.size(), 0) {
    replay_.open(core::monotonic_ms(), settings.takeover_replay_ms);
}

context::~context() = default;

int context::find_app_by_key(std::string_view key) const noexcept {
    for (size_t i = 0; i < settings_->apps.size(); ++i) {
        if (settings_->apps[i].key == key && !settings_->apps[i].removed) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

int context::find_app_by_id(std::string_view id) const noexcept {
    for (size_t i = 0; i < settings_->apps.size(); ++i) {
        if (settings_->apps[i].id == id && !settings_->apps[i].removed) {

            return static_cast<int>(i);
        }
    }
    return -1;
}

unsigned context::owner_of(std::uint32_t app, std::string_view channel) const noexcept {
    size_t h = std::hash<std::string_view>{}(channel) ^ (static_cast<size_t>(app) * 0x9e3779b97f4a7c15ULL);
    return static_cast<unsigned>(h % io_.count());
}

unsigned user_owner(std::uint32_t app, std::string_view user_id, unsigned shards) noexcept {
    // A different mix from owner_of, so a user and a channel of the same name need not collide.
    size_t h = std::hash<std::string_view>{}(user_id)*31 + app + 0x51ed27;
    return static_cast<unsigned>(h % shards);
}

unsigned context::user_owner_of(std::uint32_t app, std::string_view user_id) const noexcept {
    return user_owner(app, user_id, io_.count());
}

unsigned context::keeper_of(std::uint32_t app, std::string_view channel) const noexcept {
    int bridge = io_.bridge();
    return bridge >= 0 ? static_cast<unsigned>(bridge) : owner_of(app, channel);
}

session* context::find_session(socket_key socket) const noexcept {
    auto it = by_socket_.find(socket);
    return it == by_socket_.end() ? nullptr : it->second;
}

std::unique_ptr<session> context::open_session(shard::conn_id c, std::uint32_t app, bool admitted,
                                               std::string_view origin) {
    // Admitted by the cluster (Redis counted it against the limit): nothing more to check here.
    std::uint32_t limit = admitted ? 0 : settings_->apps[app].max_connections.value_or(0);
    if (!shared_counters::reserve(counters_.app(app).connections, limit)) {
        return nullptr;
    }
    socket_key id = ids_.next();
    while (id == 0 || by_socket_.contains(id)) {
        id = ids_.next();
    }
    auto s = std::make_unique<session>(*this, c, app, id);
    s->set_origin(console_.intern_origin(origin));
    by_socket_.emplace(s->key(), s.get());
    ++connections_[app];
    stats_.app(app).new_connections.add();
    connections_changed();
    if (console_watching(app)) {
        console_record(
            {.kind = console_kind::connected, .app = app, .socket = id, .reason = std::string(origin)});
    }
    return s;
}

void context::connections_changed() {
    int bridge = io_.bridge();
    // The load first: under a burst the flag is already set and nothing is written.
    if (bridge >= 0 && !counters_.connections_changed.load(std::memory_order_relaxed) &&
        !counters_.connections_changed.exchange(true, std::memory_order_relaxed)) {
        io_.post(static_cast<unsigned>(bridge), std::make_unique<connections_mail>());
    }
}

void context::close_session(session& s) {
    --connections_[s.app()];
    stats_.app(s.app()).disconnections.add();
    counters_.app(s.app()).connections.fetch_sub(1, std::memory_order_relaxed);
    connections_changed();

    s.leave_all();
    by_socket_.erase(s.key());
}

local_channel& context::join(std::uint32_t app, std::string_view channel, session& s) {
    auto& map = channels_[app];
    auto it = map.find(channel);
    if (it == map.end()) {
        it = map.emplace(std::string(channel), local_channel{std::string(channel), app, {}}).first;
        tell_subscribers_again(app, channel);
    }
    it->second.members.push_back({&s, s.connection()});
    auto kind = static_cast<std::size_t>(kind_of(channel));
    stats_.subscriptions[kind].add();
    stats_.subscriptions_total[kind].add();
    return it->second;
}

void context::leave(local_channel& ch, std::uint32_t index) {
    stats_.subscriptions[static_cast<std::size_t>(kind_of(ch.name))].sub();
    session* moved = ch.members.back().s;
    ch.members[index] = ch.members.back();
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

bool context::publish_local(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                            socket_key except_socket) {
    if (replay_.recording(io_.now_ms())) {
        replay_.record(app, channel, frame, io_.now_ms());
    }
    auto& map = channels_[app];
    auto it = map.find(channel);
    if (it == map.end()) {
        return false;
    }
    session* except = nullptr;
    if (except_socket != 0) {
        auto e = by_socket_.find(except_socket);
        if (e != by_socket_.end()) {
            except = e->second;
        }
    }
    // One call into the port for the whole channel: the fan-out is the hottest loop there is.
    io_.send_to_each(it->second.members, except, frame);
    // Counted once per fan-out, not per subscriber. The excluded sender is among the members
    // when it subscribes to the channel (a client event's sender always does).
    std::uint64_t n = it->second.members.size();
    if (except != nullptr && n != 0 && except->app() == app) {
        for (const auto& sub : except->subscriptions()) {
            if (sub.channel == &it->second) {
                --n;
                break;
            }
        }
    }
    stats_.deliveries.add(n);
    app_metrics& per_app = stats_.app(app);
    per_app.ws_messages_sent.add(n);
    per_app.ws_bytes_sent.add(n * frame->size());
    return true;
}

void context::on_publish_mail(const publish_mail& m) {
    if (publish_local(m.app, m.channel, m.frame, m.except) || m.from < 0 ||
        io_.count() > publish_routes::max_shards || replay_.recording(io_.now_ms())) {
        return; // (a takeover's journal records every channel's events, subscribed or not)
    }
    auto publisher = static_cast<unsigned>(m.from);
    if (!routes_.disclaim(m.app, m.channel, publisher)) {
        // Full: every publisher forgets what this shard said (FIFO: before the answer below).
        routes_.forget_disclaims();
        for (unsigned t = 0; t < io_.count(); ++t) {
            if (t != io_.index()) {
                auto reset = std::make_unique<disclaims_reset_mail>();
                reset->from = io_.index();
                io_.post(t, std::move(reset));
            }
        }
        (void)routes_.disclaim(m.app, m.channel, publisher);
    }
    auto none = std::make_unique<no_subscribers_mail>();
    none->from = io_.index();
    none->app = m.app;
    none->channel = m.channel;
    io_.post(publisher, std::move(none));
}

void context::tell_subscribers_again(std::uint32_t app, std::string_view channel) {
    std::uint64_t told = routes_.take_disclaims(app, channel);
    for (unsigned t = 0; told != 0; ++t, told >>= 1) {
        if ((told & 1) != 0) {
            auto again = std::make_unique<subscribers_again_mail>();
            again->from = io_.index();
            again->app = app;
            again->channel = std::string(channel);
            io_.post(t, std::move(again));
        }
    }
}

void context::publish(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                      socket_key except_socket) {
    // Deliver earlier publishes from other shards first, so a publisher that waits for each
    // answer sees its events arrive in order wherever the requests landed.
    io_.drain_mail();
    if (core::debugging()) {
        std::string_view p = payload_of(*frame);
        if (core::debug_shows(settings_->apps[app].id, p)) {
            RC_LOG_DEBUG("publish app %s: %.*s", settings_->apps[app].id.c_str(), static_cast<int>(p.size()),
                         p.data());
        }
    }
    publish_local(app, channel, frame, except_socket);
    // Shards that said they have no subscriber of the channel are not woken (publish_routes.h).
    std::uint64_t skipped = routes_.skipped(app, channel);
    for (unsigned t = 0; t < io_.count(); ++t) {
        if (t == io_.index() || (t < publish_routes::max_shards && ((skipped >> t) & 1) != 0)) {
            continue;
        }
        auto m = std::make_unique<publish_mail>();
        m->app = app;
        m->channel = std::string(channel);
        m->frame = frame;
        m->except = except_socket;
        m->from = static_cast<int>(io_.index());
        io_.post(t, std::move(m));
    }
}

void context::terminate_elsewhere(std::uint32_t app, std::string_view user_id) {
    if (int bridge = io_.bridge(); bridge >= 0 && !user_id.empty()) {
        auto m = std::make_unique<share_mail>();
        m->app = app;
        m->terminate_user = std::string(user_id);
        io_.post(static_cast<unsigned>(bridge), std::move(m));
    }
}

bool context::broadcast(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                        socket_key except_socket, std::uint64_t ack_id) {
    stats_.broadcasts.add();
    int bridge = io_.bridge();
    if (bridge < 0) {
        publish(app, channel, frame, except_socket);
        return false;
    }
    auto m = std::make_unique<share_mail>();
    m->app = app;
    m->channel = std::string(channel);
    m->frame = frame;
    m->except = except_socket;
    m->ack_id = ack_id;
    m->ack_to = io_.index();
    io_.post(static_cast<unsigned>(bridge), std::move(m));
    return true;
}

void context::on_mail(shard::mail& m) {
    // Every mail between these shards is posted by the Pusher layer (context, session, owner
    // state), always as a pusher::mail: the shard only carries it.
    static_cast<mail&>(m).deliver(*this);
}

void context::on_presence_joined(const presence_joined_mail& m) {
    if (session* s = find_session(m.socket)) {
        s->on_presence_joined(m);
    } else if (m.error.empty()) {
        // The joiner is gone: undo its membership at the owner.
        auto leave = std::make_unique<presence_leave_mail>();
        leave->app = m.app;
        leave->channel = m.channel;
        leave->user_id = m.user_id;
        io_.post(owner_of(m.app, m.channel), std::move(leave));
    }
}

void context::on_query_reply(query_reply_mail& r) {
    if (on_query_reply_) {
        on_query_reply_(r);
    }
}

void context::on_tick() {
    owned_.on_tick(io_.now_ms());
}

void context::reload(const config::server& settings) {
    settings_ = &settings;
    channels_.resize(settings.apps.size());
    connections_.resize(settings.apps.size(), 0);
    std::vector<session*> doomed;
    for (const auto& [id, s] : by_socket_) {
        if (!settings.apps[s->app()].enabled) {
            doomed.push_back(s);
        }
    }
    for (session* s : doomed) {
        s->close_with(code::app_disabled, "Application disabled");
    }
    RC_LOG_INFO("settings reloaded: %zu apps", settings.apps.size());
}

void context::answer(query_mail& q) {

    auto reply = std::make_unique<query_reply_mail>();
    reply->id = q.id;
    switch (q.kind) {
    case query_kind::channels:
        for (const std::string& name : q.names) {
            reply->channels.push_back(owned_.summarize(q.app, name));
        }
        break;
    case query_kind::channel_list:
        owned_.list(q.app, q.prefix, reply->channels);
        break;
    case query_kind::members:
        if (!q.names.empty()) {
            owned_.member_ids(q.app, q.names.front(), reply->users);
        }
        break;
    case query_kind::connections:
        reply->count = connections_[q.app];
        break;
    case query_kind::terminate_user: {
        std::vector<session*> doomed;
        for (const auto& [id, s] : by_socket_) {
            if (s->app() == q.app && !q.names.empty() && s->user_id() == q.names.front()) {
                doomed.push_back(s);
            }
        }
        for (session* s : doomed) {
            // 4009: "unauthorized, do not reconnect unchanged", which is what ending a user's
            // access means; pusher-js does not retry it.
            s->close_with(code::unauthorized, "Connection terminated by the application");
        }
        reply->count = doomed.size();
        break;
    }
    case query_kind::console:
        reply->console = std::make_unique<console_part>();
        answer_console(q, *reply->console);
        break;
    }
    io_.post(q.reply_to, std::move(reply));
}

void context::remember_last_event(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                                  std::string data) {
    auto set = std::make_unique<cache_set_mail>();
    set->app = app;
    set->channel = channel;
    set->frame = frame;
    set->data = std::move(data);
    set->published_ns = core::monotonic_ns();
    io_.post(keeper_of(app, channel), std::move(set));
}

} // namespace ringcast::pusher
