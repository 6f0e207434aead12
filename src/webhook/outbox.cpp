// De-bounce, fan-out to targets, batching and the retry schedule (see outbox.h).
#include "ringcast/webhook/outbox.h"

#include "ringcast/core/log.h"

#include <algorithm>
#include <limits>

namespace ringcast::webhook {

using config::webhook_kind;

namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

// The event that a held one cancels: channel_occupied undoes a pending channel_vacated,
// member_added (same user) a pending member_removed.
bool is_held_kind(webhook_kind k) {
    return k == webhook_kind::channel_vacated || k == webhook_kind::member_removed;
}

} // namespace

outbox::outbox(const config::webhook_settings& s, std::uint64_t seed) : settings_(s), rng_(seed | 1) {}

std::string outbox::hold_key(const event& ev) {
    std::string k = std::to_string(ev.app);
    bool member = ev.kind == webhook_kind::member_removed || ev.kind == webhook_kind::member_added;
    k += member ? "\x1fm\x1f"
                : "\x1f"
                  "c\x1f";
    k += ev.channel;
    if (member) {
        k += '\x1f';
        k += ev.user_id;
    }
    return k;
}

void outbox::count_pending(std::uint32_t app, std::int64_t delta) {
    if (pending_.size() <= app) {
        pending_.resize(app + 1, 0);
    }
    pending_[app] = static_cast<std::uint64_t>(static_cast<std::int64_t>(pending_[app]) + delta);
}

std::uint64_t outbox::pending(std::uint32_t app) const {
    return app < pending_.size() ? pending_[app] : 0;
}

bool outbox::cancels_held(const event& ev) {
    if (ev.kind != webhook_kind::channel_occupied && ev.kind != webhook_kind::member_added) {
        return false;
    }
    auto it = held_by_key_.find(hold_key(ev));
    if (it == held_by_key_.end()) {
        return false;
    }
    held_.erase(it->second);
    held_by_key_.erase(it);
    count_pending(ev.app, -1);
    ++counters_.debounced;
    return true;
}

bool outbox::add(event ev, std::uint64_t now_ms) {
    ++counters_.events_in;
    // A settled event was de-bounced already, across the cluster: it neither waits nor cancels.
    if (!ev.settled && cancels_held(ev)) {
        return true;
    }
    if (pending(ev.app) >= settings_.max_pending_events) {
        ++counters_.events_overflow;
        return false;
    }
    if (!ev.settled && is_held_kind(ev.kind) && settings_.debounce_ms > 0) {
        std::string k = hold_key(ev);
        held_.push_back(held{std::move(ev), now_ms + settings_.debounce_ms, k});
        held_by_key_[k] = std::prev(held_.end());
        count_pending(held_.back().ev.app, 1);
        return true;
    }
    release(ev, now_ms);
    return true;
}

target_queue& outbox::queue_for(std::uint32_t app, const config::app& a, const config::webhook_target& t) {
    // Config generations live until exit, so a target's address names it for good; the key by
    // value below is built once per target and generation, not once per event.
    if (auto it = queue_by_target_.find(&t); it != queue_by_target_.end()) {
        return *it->second;
    }
    std::string k = std::to_string(app) + '\x1f' + t.url + '\x1f' + std::to_string(t.event_types) + '\x1f' +
                    t.channel_prefix + '\x1f' + t.channel_suffix + '\x1f' + a.key + '\x1f' + a.secret;
    for (const auto& [name, value] : t.headers) {
        k += '\x1f' + name + ':' + value;
    }
    if (auto it = queue_by_key_.find(k); it != queue_by_key_.end()) {
        // The same target in a reloaded generation keeps its queue, and so its order.
        queue_by_target_.emplace(&t, it->second);
        return *it->second;
    }
    auto q = std::make_unique<target_queue>();
    q->app = app;
    q->app_id = a.id;
    q->app_key = a.key;
    q->app_secret = a.secret;
    q->target = t;
    queues_.push_back(std::move(q));
    queue_by_target_.emplace(&t, queues_.back().get());
    queue_by_key_.emplace(std::move(k), queues_.back().get());
    return *queues_.back();
}

void outbox::release(const event& ev, std::uint64_t now_ms) {
    if (config_ == nullptr || ev.app >= config_->apps.size()) {
        return;
    }
    const config::app& a = config_->apps[ev.app];
    if (!a.enabled) {
        return;
    }
    std::string json;
    for (const config::webhook_target& t : a.webhooks) {
        if (!t.wants(ev.kind) || !t.accepts(ev.channel)) {
            continue;
        }
        if (json.empty()) {
            append_json(json, ev);
        }
        target_queue& q = queue_for(ev.app, a, t);
        if (q.waiting.empty()) {
            q.window_due_ms = now_ms + settings_.batch_window_ms;
        }
        q.waiting.push_back(json);
        count_pending(ev.app, 1);
    }
}

void outbox::close_batch(target_queue& q, std::uint64_t now_ms, std::uint64_t wall_ms) {
    std::uint32_t n = static_cast<std::uint32_t>(
        std::min<std::size_t>(q.waiting.size(), std::max<std::uint32_t>(1, settings_.batch_max_events)));
    q.body = "{\"time_ms\":" + std::to_string(wall_ms) + ",\"events\":[";
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i != 0) {
            q.body += ',';
        }
        q.body += q.waiting.front();
        q.waiting.pop_front();
    }
    q.body += "]}";
    q.body_events = n;
    q.first_try_ms = q.next_try_ms = now_ms;
    q.attempt = 0;
    q.last_error.clear();
    // What is left goes out as soon as this batch is done: its window is already over.
    q.window_due_ms = q.waiting.empty() ? 0 : now_ms;
}

void outbox::advance(std::uint64_t now_ms, std::uint64_t wall_ms, bool flush) {
    while (!held_.empty() && (flush || held_.front().release_ms <= now_ms)) {
        held& h = held_.front();
        if (auto it = held_by_key_.find(h.key); it != held_by_key_.end() && it->second == held_.begin()) {
            held_by_key_.erase(it);
        }
        count_pending(h.ev.app, -1);
        release(h.ev, now_ms);
        held_.pop_front();
    }
    for (const auto& q : queues_) {
        bool full = q->waiting.size() >= settings_.batch_max_events;
        if (q->body.empty() && !q->waiting.empty() && (flush || full || now_ms >= q->window_due_ms)) {
            close_batch(*q, now_ms, wall_ms);
        }
    }
}

void outbox::ready(std::uint64_t now_ms, std::vector<target_queue*>& out) {
    for (const auto& q : queues_) {
        if (!q->body.empty() && !q->in_flight && q->next_try_ms <= now_ms) {
            out.push_back(q.get());
        }
    }
}

void outbox::on_sent(target_queue& q) {
    ++counters_.batches_sent;
    counters_.events_sent += q.body_events;
    count_pending(q.app, -static_cast<std::int64_t>(q.body_events));
    q.in_flight = false;
    q.body.clear();
    q.body_events = 0;
}

std::uint64_t outbox::backoff_ms(std::uint32_t attempt) {
    std::uint64_t gap = settings_.retry_initial_ms;
    for (std::uint32_t i = 1; i < attempt && gap < settings_.retry_max_ms; ++i) {
        gap *= 2;
    }
    gap = std::min<std::uint64_t>(gap, settings_.retry_max_ms);
    // Up to a quarter more, so targets that failed together do not all come back at once.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return gap + (gap / 4 == 0 ? 0 : rng_ % (gap / 4));
}

bool outbox::on_failed(target_queue& q, std::uint64_t now_ms, std::string reason) {
    q.in_flight = false;
    q.last_error = std::move(reason);
    std::uint64_t gap = backoff_ms(q.attempt);
    if (now_ms + gap > q.first_try_ms + settings_.retry_for_ms) {
        ++counters_.batches_dropped;
        counters_.events_dropped += q.body_events;
        count_pending(q.app, -static_cast<std::int64_t>(q.body_events));
        q.body.clear();
        q.body_events = 0;
        return false;
    }
    ++counters_.retries;
    q.next_try_ms = now_ms + gap;
    return true;
}

std::uint64_t outbox::next_due() const {
    std::uint64_t due = held_.empty() ? never : held_.front().release_ms;
    for (const auto& q : queues_) {
        if (!q->body.empty()) {
            if (!q->in_flight) {
                due = std::min(due, q->next_try_ms);
            }
        } else if (!q->waiting.empty()) {
            due = std::min(due, q->window_due_ms);
        }
    }
    return due;
}

bool outbox::empty() const {
    if (!held_.empty()) {
        return false;
    }
    return std::all_of(queues_.begin(), queues_.end(),
                       [](const auto& q) { return q->body.empty() && q->waiting.empty(); });
}

} // namespace ringcast::webhook
