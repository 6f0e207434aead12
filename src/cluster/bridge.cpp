// The Redis bridge between nodes (see bridge.h).
#include "ringcast/cluster/bridge.h"

#include "envelope.h"
#include "scripts.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"
#include "ringcast/net/stream.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/query.h"
#include "ringcast/pusher/socket_id.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <random>
#include <stdexcept>

namespace ringcast::cluster {

namespace {

std::string random_node_id() {
    std::random_device rd;
    std::uint64_t a = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(a));
    return buf;
}

} // namespace

bridge::bridge(shard::shard_group& group, const config::server& initial, pusher::shared_counters& counters,
               webhook::sink* webhooks)
    : group_(group), counters_(counters), next_config_(&initial), config_(&initial), settings_(initial.redis),
      node_id_(random_node_id()), channel_(initial.redis.prefix + ":broadcast"), spill_(group.count()),
      wake_(group.count(), false), webhooks_(webhooks), scripts_(std::make_unique<scripts>()),
      node_channel_(initial.redis.prefix + ":node:" + node_id_) {
    if (settings_.tls) {
        std::string error;
        tls_ = net::tls_context::create(false, settings_.ca_file, error);
        if (!tls_) {
            throw std::runtime_error("Redis over TLS: " + error);
        }
    }
    // Down until the first connection is up: publishes are refused rather than lost meanwhile.
    counters_.redis_down.store(true, std::memory_order_relaxed);
}

bridge::~bridge() {
    stop();
    for (auto& spill : spill_) {
        for (shard::mail* m : spill) {
            delete m;
        }
    }
}

void bridge::start() {
    thread_ = std::thread([this] { run(); });
    started_.wait(false);
    if (start_failed_.load()) {
        thread_.join();
        throw std::runtime_error("the Redis bridge could not create its io_uring");
    }
}

void bridge::stop() {
    if (!thread_.joinable()) {
        return;
    }
    stopping_.store(true, std::memory_order_release);
    net::ring waker(8, false);
    io_uring_sqe* sqe = waker.sqe();
    io_uring_prep_msg_ring(sqe, stop_fd_, 0, net::encode({net::op::stop, 0, 0}), 0);
    io_uring_sqe_set_data64(sqe, 0);
    waker.submit_and_wait(1);
    thread_.join();
}

void bridge::run() {
    core::set_log_shard(core::log_bridge);
    std::unique_ptr<net::ring> r;
    try {
        r = std::make_unique<net::ring>(1024);
    } catch (const std::exception& e) {
        RC_LOG_ERROR("Redis bridge: %s", e.what());
        start_failed_.store(true);
        started_.store(true);
        started_.notify_all();
        return;
    }
    stop_fd_ = r->fd();
    group_.set_bridge_ring_fd(r->fd());
    started_.store(true);
    started_.notify_all();
    redis::connection::callbacks pub_cb{[this] {
                                            pub_up_ = true;
                                            on_reconnected();
                                            load_scripts();
                                            start_restore();
                                            on_redis("");
                                        },
                                        [this](const std::string& why) {
                                            pub_up_ = false;
                                            tick_in_flight_ = false;
                                            on_redis(why);
                                        },
                                        {}};
    redis::connection::callbacks sub_cb{[this] { subscribe(); },
                                        [this](const std::string& why) {
                                            sub_up_ = false;
                                            // Their answers would come on this connection.
                                            std::vector<std::uint64_t> waiting;
                                            for (const auto& [token, j] : joins_) {
                                                waiting.push_back(token);
                                            }
                                            for (std::uint64_t token : waiting) {
                                                decide_alone(joins_.at(token).change);
                                                joins_.erase(token);
                                            }
                                            on_redis(why);
                                        },
                                        [this](const redis::value& v) { on_message(v); }};
    pub_ =
        std::make_unique<redis::connection>(settings_, tls_.get(), redis::connection::role::commands, pub_cb);
    sub_ = std::make_unique<redis::connection>(settings_, tls_.get(), redis::connection::role::subscriber,
                                               sub_cb);
    pub_->start(*r, core::monotonic_ms());
    sub_->start(*r, core::monotonic_ms());
    try {
        loop(*r);
        retire(*r);
    } catch (const std::exception& e) {
        RC_LOG_ERROR("Redis bridge: %s; this node no longer hears the others", e.what());
    }
    pub_->stop();
    sub_->stop();
    // The kernel hands back the connections' buffers before the ring goes.
    net::stream::drain(*r, 1000);
    group_.set_bridge_ring_fd(-1);
    counters_.redis_down.store(true, std::memory_order_relaxed);
}

void bridge::subscribe() {
    // One channel per command: the connection matches one reply to each command it sends.
    for (const std::string* name : {&node_channel_, &channel_}) {
        bool last = name == &channel_;
        sub_->command({"SUBSCRIBE", *name}, [this, name, last](const redis::value& v) {
            if (v.is_error()) {
                RC_LOG_WARN("Redis bridge: SUBSCRIBE %s failed: %s", name->c_str(), v.text.c_str());
                return;
            }
            if (last) {
                sub_up_ = true;
                on_reconnected(); // what was announced while unsubscribed never reached us
                on_redis("");
            }
        });
    }
}

void bridge::on_redis(const std::string& why) {
    bool up = pub_up_ && sub_up_;
    counters_.redis_down.store(!up, std::memory_order_relaxed);
    if (was_up_ && !up) {
        stats_.link_lost.add();
    }
    was_up_ = up;
    if (up && reported_down_) {
        RC_LOG_INFO("Redis bridge: connected to %s again (node %s)", settings_.display().c_str(),
                    node_id_.c_str());
        reported_down_ = false;
    } else if (up) {
        RC_LOG_INFO("Redis bridge: connected to %s as node %s, on channel %s", settings_.display().c_str(),
                    node_id_.c_str(), channel_.c_str());
    } else if (!reported_down_ && !why.empty()) {
        RC_LOG_WARN("Redis bridge: %s unreachable (%s); serving local clients only, HTTP API publishes "
                    "answer 503, reconnecting",
                    settings_.display().c_str(), why.c_str());
        reported_down_ = true;
    }
}

// long-function: the thread's cycle in one place reads better than split in pieces
void bridge::loop(net::ring& r) {
    while (!stopping_.load(std::memory_order_acquire)) {
        std::uint64_t now = core::monotonic_ms();
        pub_->tick(now);
        sub_->tick(now);
        if (const config::server* next = next_config_.load(std::memory_order_acquire); next != config_) {
            config_ = next;
            connections_due_ = true; // added apps' counts too
        }
        drain_shards();
        flush_node_counts();
        send_connections(now);
        if (pub_up_ && sub_up_ && !restoring_ &&
            (resync_due_ || (final_resync_due_ && now >= partial_until_ms_))) {
            // After the rebuild, which went out before it on the same connection.
            final_resync_due_ = final_resync_due_ && now < partial_until_ms_;
            resync_views();
        }
        deliver_overdue(now);
        tick_state(now);
        tick_console(now);
        flush_posts(r);
        std::uint64_t due = std::min(pub_->next_due(), sub_->next_due());
        if (!own_.empty()) {
            due = std::min(due, own_.front().due_ms);
        }
        due = std::min(due, next_tick_ms_);
        if (final_resync_due_) {
            due = std::min(due, partial_until_ms_);
        }
        if (connections_due_) {
            due = std::min(due, connections_sent_ms_ + connections_gap_ms);
        }
        std::uint64_t wait_ms = due <= now ? 0 : std::min<std::uint64_t>(due - now, 1000);
        r.wait_and_handle(wait_ms, [this](std::uint64_t user_data, int res) { handle(user_data, res); });
    }
}

void bridge::handle(std::uint64_t user_data, int res) {
    if (net::stream::is_stream_tag(user_data)) {
        net::stream::on_completion(reinterpret_cast<void*>(user_data), res);
    }
    // Otherwise a shard's wake-up, a stop notice, or our own MSG_RING: the loop drains anyway.
}

void bridge::drain_shards() {
    unsigned me = group_.count();
    for (unsigned from = 0; from < group_.count(); ++from) {
        auto& q = group_.queue(from, me);
        while (shard::mail* m = q.pop()) {
            // Only the Pusher layer posts to the bridge, always a pusher::mail.
            std::unique_ptr<shard::mail> owned(m);
            static_cast<pusher::mail&>(*owned).to_bridge(*this);
        }
    }
}

void bridge::on_share(pusher::share_mail& m) {
    if (m.app >= config_->apps.size()) {
        return;
    }
    if (!m.terminate_user.empty()) {
        // Best effort, like Pusher's own: the answer reports this node's connections only.
        std::string body = envelope(node_id_, 0, config_->apps[m.app].id, std::string(terminate_channel), 0,
                                    m.terminate_user);
        pub_->command({"PUBLISH", channel_, body});
        return;
    }
    std::uint64_t seq = ++seq_;
    std::string body = envelope(node_id_, seq, config_->apps[m.app].id, m.channel, m.except, m.frame->view());
    std::uint64_t ack_id = m.ack_id;
    unsigned ack_to = m.ack_to;
    bool sent =
        pub_->command({"PUBLISH", channel_, body}, [this, seq, ack_id, ack_to](const redis::value& v) {
            if (!v.is_error()) {
                acknowledge(ack_id, ack_to, "");
                return;
            }
            if (ack_id != 0) {
                // Its publisher hears it failed, so it is delivered nowhere (a retry would double it).
                for (own_event& e : own_) {
                    if (e.seq == seq) {
                        e.dropped = true;
                    }
                }
                acknowledge(ack_id, ack_to,
                            "Redis did not take the event (" + v.text + "); nothing was published");
            }
        });
    if (!sent) {
        if (ack_id != 0) {
            acknowledge(ack_id, ack_to, "Redis is unreachable; nothing was published, try again");
            return;
        }
        // A client event with Redis down reaches this node's subscribers only, and is counted.
        post_to_shards(m.app, m.channel, m.frame, m.except);
        stats_.local_only.add();
        if (++dropped_ % 1000 == 1) {
            RC_LOG_WARN("Redis bridge: %llu client events reached only this node (Redis down)",
                        static_cast<unsigned long long>(dropped_));
        }
        return;
    }
    stats_.published.add();
    own_.push_back(own_event{seq, core::monotonic_ms() + echo_wait_ms, m.app, m.channel, m.frame, m.except});
}

void bridge::acknowledge(std::uint64_t id, unsigned to, const std::string& error) {
    if (id == 0) {
        return;
    }
    auto r = std::make_unique<pusher::query_reply_mail>();
    r->id = id;
    r->failed = !error.empty();
    r->error = error;
    post(to, std::move(r));
}

void bridge::deliver_own_until(std::uint64_t seq) {
    while (!own_.empty() && own_.front().seq <= seq) {
        own_event& e = own_.front();
        if (!e.dropped) {
            post_to_shards(e.app, std::move(e.channel), e.frame, e.except);
        }
        delivered_seq_ = e.seq;
        own_.pop_front();
    }
}

void bridge::on_own_echo(std::uint64_t seq) {
    if (seq <= delivered_seq_) {
        return; // delivered already, its echo was late
    }
    // Echoes come in PUBLISH order: anything older without one was lost on the way; it goes first.
    deliver_own_until(seq);
}

void bridge::deliver_overdue(std::uint64_t now_ms) {
    while (!own_.empty() && own_.front().due_ms <= now_ms) {
        deliver_own_until(own_.front().seq);
    }
}

void bridge::on_message(const redis::value& v) {
    if (v.elements.size() < 3 || !v.elements.back().is_string()) {
        return;
    }
    const std::string& text = v.elements.back().text;
    if (text.starts_with("rcj ")) {
        on_joined(text);
        return;
    }
    if (text.starts_with("rcv ")) {
        on_view_sync(text);
        return;
    }
    if (text.starts_with("rcc ")) {
        on_console_part(text);
        return;
    }
    if (text.starts_with("rch ")) {
        emit_webhook(std::string_view(text).substr(4)); // this node sends the channel's webhooks
        return;
    }
    if (state_event se; parse_state_event(text, se)) {
        if (int app = app_index(se.app_id); app >= 0) {
            on_state_event(se, static_cast<std::uint32_t>(app));
        }
        return;
    }
    parsed_envelope e;
    if (!parse_envelope(text, e)) {
        if (++refused_ % 1000 == 1) {
            RC_LOG_WARN("Redis bridge: a message on %s is not one of ours; ignored", channel_.c_str());
        }
        return;
    }
    if (e.node == node_id_) {
        if (e.channel != terminate_channel && e.channel != console_channel) {
            on_own_echo(e.seq);
        }
        return;
    }
    int app = app_index(e.app_id);
    if (app < 0) {
        return; // an app this node does not serve (yet)
    }
    if (e.channel == terminate_channel) {
        terminate_here(static_cast<std::uint32_t>(app), std::string(e.frame));
        return;
    }
    if (e.channel == console_channel) {
        on_console_watch(static_cast<std::uint32_t>(app), e.node);
        return;
    }
    net::frame_ref frame(net::frame::copy_of(e.frame));
    post_to_shards(static_cast<std::uint32_t>(app), std::string(e.channel), frame, e.except);
    stats_.received.add();
}

int bridge::app_index(std::string_view id) const {
    const auto& apps = config_->apps;
    auto it = std::find_if(apps.begin(), apps.end(), [&](const config::app& a) { return a.id == id; });
    return it == apps.end() || !it->enabled ? -1 : static_cast<int>(it - apps.begin());
}

void bridge::post_to_shards(std::uint32_t app, std::string channel, const net::frame_ref& frame,
                            std::uint64_t except) {
    for (unsigned t = 0; t < group_.count(); ++t) {
        auto m = std::make_unique<pusher::publish_mail>();
        m->app = app;
        m->channel = channel;
        m->frame = frame;
        m->except = except;
        post(t, std::move(m));
    }
}

void bridge::terminate_here(std::uint32_t app, const std::string& user_id) {
    for (unsigned t = 0; t < group_.count(); ++t) {
        auto q = std::make_unique<pusher::query_mail>();
        q->kind = pusher::query_kind::terminate_user;
        q->app = app;
        q->names = {user_id};
        q->reply_to = group_.count(); // the answers come back here and are dropped
        post(t, std::move(q));
    }
}

void bridge::post(unsigned t, std::unique_ptr<shard::mail> m) {
    shard::mail* raw = m.release();
    if (!spill_[t].empty() || !group_.queue(group_.count(), t).push(raw)) {
        spill_[t].push_back(raw); // in order behind what is already waiting
    }
    wake_[t] = true;
}

void bridge::flush_posts(net::ring& r) {
    unsigned me = group_.count();
    for (unsigned t = 0; t < group_.count(); ++t) {
        auto& spill = spill_[t];
        std::size_t sent = 0;
        while (sent < spill.size() && group_.queue(me, t).push(spill[sent])) {
            ++sent;
        }
        spill.erase(spill.begin(), spill.begin() + static_cast<std::ptrdiff_t>(sent));
        if (!wake_[t]) {
            continue;
        }
        wake_[t] = !spill.empty();
        int fd = group_.at(t).ring_fd();
        if (fd < 0) {
            continue;
        }
        io_uring_sqe* sqe = r.sqe();
        io_uring_prep_msg_ring(sqe, fd, 0, net::encode({net::op::wake, 0, 0}), 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data64(sqe, net::encode({net::op::msg_ring, 0, 0}));
    }
}

} // namespace ringcast::cluster
