// The bridge's half of the cluster's shared state (see bridge.h; the Redis half is scripts.cpp):
// node-level changes from the owner shards go to Redis as script calls, what the scripts
// announce comes back to every node's shards, the HTTP API's questions are answered from
// Redis, and the node's lease, connections and held webhooks are kept every heartbeat.
#include "ringcast/cluster/bridge.h"

#include "detail.h"
#include "envelope.h"
#include "scripts.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/json_writer.h"
#include "ringcast/core/log.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/query.h"

#include <algorithm>
#include <charconv>

namespace ringcast::cluster {

using detail::is_lost;
using detail::number_of;

namespace {

// Above this many subscribers, counts go out at most every 5 s (Pusher's documented rule, as
// on a single node), however many nodes change them.
constexpr std::uint32_t count_throttle_threshold = 100;
constexpr std::uint64_t count_throttle_ms = 5000;

const std::string redis_unreachable =
    "Redis is unreachable, so this node cannot answer for the cluster; try again";

// A cache channel's stored value: "<data length>\n<data><frame>".
bool split_cached(std::string_view stored, std::string_view& data, std::string_view& frame) {
    std::size_t nl = stored.find('\n');
    std::size_t len = 0;
    if (nl == std::string_view::npos ||
        std::from_chars(stored.data(), stored.data() + nl, len).ec != std::errc() ||
        len > stored.size() - nl - 1) {
        return false;
    }
    data = stored.substr(nl + 1, len);
    frame = stored.substr(nl + 1 + len);
    return !frame.empty();
}

} // namespace

std::string bridge::debounce_arg() const {
    for (const config::app& a : config_->apps) {
        if (!a.webhooks.empty()) {
            return std::to_string(config_->webhooks.debounce_ms);
        }
    }
    return "-1"; // no webhooks anywhere: the scripts keep nothing for them
}

void bridge::load_scripts() {
    // Sent first on a fresh connection, so every EVALSHA after them finds its script even when
    // Redis restarted empty.
    for (const script* s : scripts_->all()) {
        pub_->command({"SCRIPT", "LOAD", s->text}, [name = s->name](const redis::value& v) {
            if (v.is_error() && !is_lost(v)) {
                RC_LOG_ERROR("Redis bridge: Redis refused script %.*s: %s", static_cast<int>(name.size()),
                             name.data(), v.text.c_str());
            }
        });
    }
}

bool bridge::eval(const script& s, std::vector<std::string> args, redis::connection::reply_fn reply) {
    std::string debounce = debounce_arg();
    std::vector<std::string_view> argv{"EVALSHA", s.sha, "0", settings_.prefix, node_id_, debounce};
    argv.insert(argv.end(), args.begin(), args.end());
    return pub_->command(argv, [this, name = s.name, reply = std::move(reply)](const redis::value& v) {
        if (v.is_error() && v.text.starts_with("NOSCRIPT")) {
            load_scripts(); // someone ran SCRIPT FLUSH: this call failed, the next ones will not
        }
        if (v.is_error() && !is_lost(v)) {
            RC_LOG_WARN("Redis bridge: script %.*s failed: %s", static_cast<int>(name.size()), name.data(),
                        v.text.c_str());
        }
        if (reply) {
            reply(v);
        }
    });
}

void bridge::on_state_event(const state_event& e, std::uint32_t app) {
    if (e.skip_node == node_id_) {
        return;
    }
    std::string channel(e.channel);
    switch (e.op) {
    case 'a':
    case 'r':
        on_member_event(e, app);
        break;
    case 'u':
    case 'f': {
        auto status = std::make_unique<pusher::user_status_mail>();
        status->app = app;
        status->user_id = std::string(e.user);
        status->online = e.op == 'u';
        post(pusher::user_owner(app, e.user, group_.count()), std::move(status));
        break;
    }
    case 'c': {
        std::uint32_t count = 0;
        std::from_chars(e.payload.data(), e.payload.data() + e.payload.size(), count);
        deliver_count(app, channel, count, core::monotonic_ms());
        break;
    }
    default:
        break;
    }
}

// ---- subscription counts -----------------------------------------------------------------

void bridge::on_count(pusher::node_count_mail& m) {
    if (restoring_) {
        held_.push_back(std::make_unique<pusher::node_count_mail>(m));
        return;
    }
    if (m.app >= config_->apps.size()) {
        return;
    }
    // Only the latest count of a channel matters: what arrives in one drain of the queues goes
    // to Redis as one script call per channel (flush_node_counts), not one per subscribe; the
    // subscribers waiting for it are all told when it is in.
    pending_count& p = node_counts_[std::to_string(m.app) + '\n' + m.channel];
    p.count = m.count;
    p.acks.insert(p.acks.end(), m.acks.begin(), m.acks.end());
}

void bridge::flush_node_count(std::uint32_t app, const std::string& channel) {
    auto it = node_counts_.find(std::to_string(app) + '\n' + channel);
    if (it != node_counts_.end()) {
        send_node_count(it->first, std::move(it->second));
        node_counts_.erase(it);
    }
}

void bridge::flush_node_counts() {
    for (auto& [key, pending] : node_counts_) {
        send_node_count(key, std::move(pending));
    }
    node_counts_.clear();
}

void bridge::send_node_count(const std::string& key, pending_count pending) {
    std::size_t nl = key.find('\n');
    auto app = static_cast<std::uint32_t>(std::stoul(key.substr(0, nl)));
    std::string channel = key.substr(nl + 1);
    if (app >= config_->apps.size()) {
        return;
    }
    if (pending.count == 0) {
        forget_view(app, channel); // no client here to tell of the channel's members any more
    }
    const config::app& a = config_->apps[app];
    bool announce = a.subscription_count && !pusher::is_presence(pusher::kind_of(channel));
    // The waiting subscribers are told once Redis has the count, or at once when it cannot be
    // sent (Redis down: the rebuild after reconnecting carries the latest count).
    auto tell = [this, app, channel, acks = std::move(pending.acks)] {
        for (const auto& [shard, socket] : acks) {
            auto m = std::make_unique<pusher::subscribed_mail>();
            m->app = app;
            m->channel = channel;
            m->socket = socket;
            post(shard, std::move(m));
        }
    };
    bool sent = eval(scripts_->count, {a.id, channel, std::to_string(pending.count), announce ? "1" : "0"},
                     [this, tell](const redis::value& v) {
                         tell();
                         emit_webhooks(v);
                     });
    if (!sent) {
        tell();
    }
}

void bridge::deliver_count(std::uint32_t app, const std::string& channel, std::uint32_t count,
                           std::uint64_t now_ms) {
    if (!config_->apps[app].subscription_count) {
        return;
    }
    count_throttle& t = counts_[std::to_string(app) + '\n' + channel];
    if (count <= count_throttle_threshold || now_ms >= t.sent_ms + count_throttle_ms) {
        t.sent_ms = now_ms;
        t.waiting = 0;
        post_to_shards(app, channel, pusher::subscription_count(channel, count), 0);
    } else {
        t.waiting = count;
    }
}

void bridge::flush_counts(std::uint64_t now_ms) {
    for (auto it = counts_.begin(); it != counts_.end();) {
        count_throttle& t = it->second;
        if (now_ms < t.sent_ms + count_throttle_ms) {
            ++it;
            continue;
        }
        if (t.waiting != 0) {
            std::size_t nl = it->first.find('\n');
            auto app = static_cast<std::uint32_t>(std::stoul(it->first.substr(0, nl)));
            std::string channel = it->first.substr(nl + 1);
            if (app < config_->apps.size()) {
                post_to_shards(app, channel, pusher::subscription_count(channel, t.waiting), 0);
            }
            t.waiting = 0;
            t.sent_ms = now_ms;
            ++it;
        } else {
            it = counts_.erase(it);
        }
    }
}

// ---- cache channels ----------------------------------------------------------------------

void bridge::on_cache_set(pusher::cache_set_mail& m) {
    if (m.app >= config_->apps.size()) {
        return;
    }
    const config::app& a = config_->apps[m.app];
    std::string base = settings_.prefix + ":app:" + a.id;
    std::string value = std::to_string(m.data.size()) + '\n' + m.data + std::string(m.frame->view());
    std::string ttl = std::to_string(std::max<std::uint64_t>(a.cache_ttl_s * 1000ULL, 1));
    // Before the event's own PUBLISH (it follows in this shard's queue), so a subscriber that
    // missed the event finds it here.
    (void)pub_->command({"SET", base + ":cache:" + m.channel, value, "PX", ttl});
    (void)pub_->command({"DEL", base + ":cache_miss:" + m.channel});
}

void bridge::on_cache_get(pusher::cache_get_mail& m) {
    if (m.app >= config_->apps.size()) {
        return;
    }
    const config::app& a = config_->apps[m.app];
    std::string ttl = std::to_string(std::max<std::uint64_t>(a.cache_ttl_s * 1000ULL, 1));
    auto answer = [this, to = m.reply_to, app = m.app, channel = m.channel,
                   socket = m.socket](const redis::value& v) {
        auto out = std::make_unique<pusher::cache_reply_mail>();
        out->app = app;
        out->channel = channel;
        out->socket = socket;
        std::string_view data;
        std::string_view frame;
        if (v.type == redis::kind::array && v.elements.size() == 2) {
            if (split_cached(v.elements[0].text, data, frame)) {
                out->frame = net::frame_ref(net::frame::copy_of(frame));
            } else if (number_of(v.elements[1]) == 1 && webhooks_ != nullptr && app < config_->apps.size() &&
                       config_->apps[app].wants_webhook(config::webhook_kind::cache_miss)) {
                webhook::event ev; // once per empty spell in the cluster (the script's flag)
                ev.kind = config::webhook_kind::cache_miss;
                ev.app = app;
                ev.channel = channel;
                ev.settled = true;
                webhooks_->emit(std::move(ev));
            }
        }
        post(to, std::move(out));
    };
    if (!eval(scripts_->cache_get, {a.id, m.channel, ttl}, answer)) {
        answer(redis::value{}); // Redis down: the subscriber hears of a miss
    }
}

// ---- the HTTP API's questions ------------------------------------------------------------

namespace {

// What Redis answered to one of the HTTP API's questions (see bridge::ask), into `r`.
// `here` is this node's own (exact) count of the app's connections, which replaces what Redis
// last heard of it, `node` this node's id.
void read_answer(const pusher::query_mail& q, const redis::value& v, pusher::query_reply_mail& r,
                 std::string_view node, std::uint64_t here) {
    switch (q.kind) {
    case pusher::query_kind::channels: // {subscriptions, users, cached value, its ttl} per name
        for (std::size_t i = 0; i < q.names.size() && 4 * i + 3 < v.elements.size(); ++i) {
            const redis::value* e = &v.elements[4 * i];
            pusher::channel_summary s;
            s.name = q.names[i];
            s.subscriptions = static_cast<std::uint32_t>(number_of(e[0]));
            s.users = static_cast<std::uint32_t>(number_of(e[1]));
            std::string_view data;
            std::string_view frame;
            if (split_cached(e[2].text, data, frame)) {
                s.has_cache = true;
                s.cache_data = std::string(data);
                s.cache_ttl_s = static_cast<std::uint32_t>((number_of(e[3]) + 999) / 1000);
            }
            r.channels.push_back(std::move(s));
        }
        break;
    case pusher::query_kind::channel_list: // {name, subscriptions, users, ...}
        for (std::size_t i = 0; i + 2 < v.elements.size(); i += 3) {
            pusher::channel_summary s;
            s.name = v.elements[i].text;
            s.subscriptions = static_cast<std::uint32_t>(number_of(v.elements[i + 1]));
            s.users = static_cast<std::uint32_t>(number_of(v.elements[i + 2]));
            r.channels.push_back(std::move(s));
        }
        break;
    case pusher::query_kind::members: // HKEYS
        for (const redis::value& id : v.elements) {
            r.users.push_back(id.text);
        }
        std::sort(r.users.begin(), r.users.end());
        break;
    case pusher::query_kind::connections: // HGETALL: node, its count, ...
        for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
            r.count += v.elements[i].text == node ? 0 : number_of(v.elements[i + 1]);
        }
        r.count += here;
        break;
    case pusher::query_kind::terminate_user:
    case pusher::query_kind::console:
        break;
    }
}

} // namespace

bool bridge::ask(const pusher::query_mail& q, redis::connection::reply_fn answer) {
    const std::string& app_id = config_->apps[q.app].id;
    std::string base = settings_.prefix + ":app:" + app_id;
    switch (q.kind) {
    case pusher::query_kind::channels: {
        std::vector<std::string> args{app_id};
        args.insert(args.end(), q.names.begin(), q.names.end());
        return eval(scripts_->channel, std::move(args), std::move(answer));
    }
    case pusher::query_kind::channel_list:
        return eval(scripts_->channels, {app_id, q.prefix}, std::move(answer));
    case pusher::query_kind::members:
        return !q.names.empty() &&
               pub_->command({"HKEYS", base + ":channel:" + q.names.front() + ":members"}, std::move(answer));
    case pusher::query_kind::connections:
        return pub_->command({"HGETALL", base + ":connections"}, std::move(answer));
    case pusher::query_kind::terminate_user:
    case pusher::query_kind::console:
        break; // each node closes its own (the "#terminate" envelope); the console asks its shards
    }
    return false;
}

void bridge::on_query(pusher::query_mail& q) {
    if (q.kind == pusher::query_kind::console) {
        on_console_query(q);
        return;
    }
    auto answer = [this, q](const redis::value& v) {
        auto r = std::make_unique<pusher::query_reply_mail>();
        r->id = q.id;
        if (v.is_error()) {
            r->failed = true;
            r->error = redis_unreachable;
        } else {
            std::uint64_t here = q.app < config_->apps.size()
                                     ? counters_.app(q.app).connections.load(std::memory_order_relaxed)
                                     : 0;
            read_answer(q, v, *r, node_id_, here);
        }
        post(q.reply_to, std::move(r));
    };
    if (q.app >= config_->apps.size() || !pub_up_ || !ask(q, answer)) {
        redis::value down;
        down.type = redis::kind::error;
        answer(down);
    }
}

// ---- heartbeat, rebuild, webhooks ----------------------------------------------------------

void bridge::tick_state(std::uint64_t now_ms) {
    if (now_ms < next_tick_ms_) {
        return;
    }
    next_tick_ms_ = now_ms + heartbeat_ms;
    for (auto it = joins_.begin(); it != joins_.end();) {
        if (it->second.due_ms <= now_ms) {
            decide_alone(it->second.change); // Redis is too slow to wait for
            it = joins_.erase(it);
        } else {
            ++it;
        }
    }
    flush_counts(now_ms);
    if (!pub_up_ || tick_in_flight_ || restoring_) {
        return;
    }
    tick_in_flight_ = eval(scripts_->tick, {std::to_string(lease_ms)}, [this](const redis::value& v) {
        tick_in_flight_ = false;
        if (v.type != redis::kind::array || v.elements.size() != 2) {
            return;
        }
        emit_webhooks(v.elements[1]);
        if (number_of(v.elements[0]) == 1 && !restoring_) {
            RC_LOG_WARN(
                "Redis bridge: Redis did not know node %s (its lease ran out, or Redis lost its data); "
                "rebuilding this node's members and counts there",
                node_id_.c_str());
            start_restore();
        }
    });
}

void bridge::retire(net::ring& r) {
    bool done = false;
    if (!pub_up_ || !eval(scripts_->retire, {}, [this, &done](const redis::value& v) {
            done = true;
            if (!v.is_error()) {
                emit_webhooks(v);
                RC_LOG_INFO("Redis bridge: node %s left the cluster", node_id_.c_str());
            }
        })) {
        return;
    }
    // Bounded: a stop never waits long on Redis; an unanswered node expires with its lease.
    std::uint64_t until = core::monotonic_ms() + 1000;
    while (!done && core::monotonic_ms() < until) {
        pub_->tick(core::monotonic_ms());
        r.wait_and_handle(50, [this](std::uint64_t user_data, int res) { handle(user_data, res); });
    }
}

void bridge::start_restore() {
    restoring_ = true;
    ++dump_generation_;
    dumps_waiting_ = group_.count();
    dumps_.clear();
    for (unsigned t = 0; t < group_.count(); ++t) {
        auto ask = std::make_unique<pusher::node_dump_request_mail>();
        ask->generation = dump_generation_;
        post(t, std::move(ask));
    }
}

void bridge::on_dump(pusher::node_dump_mail& m) {
    if (!restoring_ || m.generation != dump_generation_) {
        return;
    }
    dumps_.push_back(std::move(m));
    if (--dumps_waiting_ == 0) {
        finish_restore();
    }
}

void bridge::finish_restore() {
    std::vector<std::string> args{std::to_string(lease_ms)};
    const auto& apps = config_->apps;
    // Three sections, each its length first (scripts.h).
    auto section = [&](auto add) {
        std::size_t at = args.size();
        args.emplace_back();
        std::size_t n = 0;
        for (const auto& d : dumps_) {
            n += add(d);
        }
        args[at] = std::to_string(n);
        return n;
    };
    std::size_t counts = section([&](const pusher::node_dump_mail& d) {
        std::size_t n = 0;
        for (const auto& c : d.counts) {
            if (c.app < apps.size()) {
                args.insert(args.end(), {apps[c.app].id, c.channel, std::to_string(c.subscriptions)});
                ++n;
            }
        }
        return n;
    });
    std::size_t members = section([&](const pusher::node_dump_mail& d) {
        std::size_t n = 0;
        for (const auto& mem : d.members) {
            if (mem.app < apps.size()) {
                args.insert(args.end(), {apps[mem.app].id, mem.channel, mem.user_id, mem.user_info});
                ++n;
            }
        }
        return n;
    });
    section([&](const pusher::node_dump_mail& d) {
        std::size_t n = 0;
        for (const auto& [app, user] : d.users) {
            if (app < apps.size()) {
                args.insert(args.end(), {apps[app].id, user});
                ++n;
            }
        }
        return n;
    });
    (void)eval(scripts_->restore, std::move(args), [this, counts, members](const redis::value& v) {
        if (v.is_error()) {
            return; // the next connection rebuilds again
        }
        RC_LOG_INFO("Redis bridge: node %s's share is in Redis (%zu channels with subscribers, %zu members)",
                    node_id_.c_str(), counts, members);
        emit_webhooks(v);
    });
    restoring_ = false;
    dumps_.clear();
    connections_due_ = true; // Redis may have lost them with the rest
    // What changed meanwhile goes after the rebuild, in the order it happened.
    std::vector<std::unique_ptr<pusher::mail>> held = std::move(held_);
    held_.clear();
    for (auto& m : held) {
        m->to_bridge(*this);
    }
}

} // namespace ringcast::cluster
