// Watchlists, connection counts and the HTTP API's rates across nodes (see bridge.h): who is
// signed in anywhere, how many connections each app has in the cluster, and how much of its
// per-second allowances the cluster has used.
#include "ringcast/cluster/bridge.h"

#include "detail.h"
#include "scripts.h"

#include "ringcast/pusher/query.h"

#include <algorithm>

namespace ringcast::cluster {

using detail::number_of;

// ---- watchlists ---------------------------------------------------------------------------

void bridge::on_user(pusher::user_status_mail& m) {
    if (restoring_) {
        held_.push_back(std::make_unique<pusher::user_status_mail>(m));
        return;
    }
    if (m.app >= config_->apps.size()) {
        return;
    }
    bool sent = eval(scripts_->user, {config_->apps[m.app].id, m.user_id, m.online ? "1" : "0"},
                     [this, m](const redis::value& v) {
                         if (v.is_error()) {
                             post(pusher::user_owner(m.app, m.user_id, group_.count()),
                                  std::make_unique<pusher::user_status_mail>(m));
                         }
                     });
    if (!sent) {
        // This node's watchers hear of it; Redis at the rebuild.
        post(pusher::user_owner(m.app, m.user_id, group_.count()),
             std::make_unique<pusher::user_status_mail>(m));
    }
}

void bridge::on_watch_query(pusher::watch_query_mail& m) {
    auto answer = [this, m](const redis::value& v) {
        if (v.type != redis::kind::array || v.elements.size() != m.user_ids.size()) {
            post(m.owner, std::make_unique<pusher::watch_query_mail>(m)); // the owner answers alone
            return;
        }
        auto status = std::make_unique<pusher::watch_status_mail>();
        status->socket = m.socket;
        for (std::size_t i = 0; i < m.user_ids.size(); ++i) {
            (number_of(v.elements[i]) > 0 ? status->online : status->offline).push_back(m.user_ids[i]);
        }
        post(m.watcher_shard, std::move(status));
    };
    std::vector<std::string> args{
        "HMGET", settings_.prefix + ":app:" + (m.app < config_->apps.size() ? config_->apps[m.app].id : "") +
                     ":online"};
    args.insert(args.end(), m.user_ids.begin(), m.user_ids.end());
    std::vector<std::string_view> argv(args.begin(), args.end());
    if (m.app >= config_->apps.size() || !pub_->command(argv, answer)) {
        answer(redis::value{});
    }
}

// ---- connections -------------------------------------------------------------------------

void bridge::on_connections(pusher::connections_mail&) {
    // Cleared before the counts are read, so a change after this posts again.
    counters_.connections_changed.store(false, std::memory_order_relaxed);
    connections_due_ = true;
}

// This node's connection counts, at once when they change now and then, at most one send per
// connections_gap_ms under a storm of connects (a few sends of allowance): the other nodes'
// answers to GET /connections and their max_connections checks follow within a Redis round trip.
void bridge::send_connections(std::uint64_t now_ms) {
    if (!connections_due_ || !pub_up_ || restoring_) {
        return;
    }
    std::uint64_t earned = (now_ms - connections_sent_ms_) / connections_gap_ms;
    connections_allowance_ = std::min<std::uint64_t>(connections_allowance_ + earned, connections_burst);
    if (connections_allowance_ == 0) {
        return; // the loop wakes when the next one is earned
    }
    --connections_allowance_;
    connections_due_ = false;
    connections_sent_ms_ = now_ms;
    std::vector<std::string> args;
    for (std::uint32_t i = 0; i < config_->apps.size(); ++i) {
        const config::app& a = config_->apps[i];
        if (a.enabled) {
            args.insert(args.end(),
                        {a.id, std::to_string(counters_.app(i).connections.load(std::memory_order_relaxed))});
        }
    }
    (void)eval(scripts_->connections, std::move(args), {});
}

void bridge::on_admit(pusher::admit_mail& m) {
    auto answer = [this, id = m.id, to = m.reply_to](const redis::value& v) {
        auto r = std::make_unique<pusher::query_reply_mail>();
        r->id = id;
        r->failed = v.type != redis::kind::integer; // Redis cannot say: the node decides alone
        r->count = v.type == redis::kind::integer ? static_cast<std::uint64_t>(v.integer) : 0;
        post(to, std::move(r));
    };
    if (m.app >= config_->apps.size() ||
        !eval(scripts_->admit, {config_->apps[m.app].id, std::to_string(m.limit)}, answer)) {
        answer(redis::value{});
    }
}

// ---- the HTTP API's rates ----------------------------------------------------------------

void bridge::on_rate(pusher::rate_mail& m) {
    auto answer = [this, id = m.id, to = m.reply_to](const redis::value& v) {
        auto r = std::make_unique<pusher::query_reply_mail>();
        r->id = id;
        if (v.type != redis::kind::integer) {
            r->failed = true;
            r->error = "Redis is unreachable, so the cluster's request rates are unknown; try again";
        } else if (v.integer == 0) {
            r->failed = true;
            r->status = 429;
        }
        post(to, std::move(r));
    };
    if (m.app >= config_->apps.size() || !eval(scripts_->rate,
                                               {config_->apps[m.app].id, m.reads ? "reads" : "events",
                                                std::to_string(m.amount), std::to_string(m.limit)},
                                               answer)) {
        answer(redis::value{});
    }
}

} // namespace ringcast::cluster
