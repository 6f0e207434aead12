// Webhooks, part 2: what waits to be sent, without any I/O, so it is tested with a fake clock.
//
// An event enters through add(). channel_vacated and member_removed are held for the de-bounce
// delay first; the opposite event for the same channel (and user) arriving inside it cancels
// both, so a page reload sends nothing. Released events are copied to every target of the app
// that wants them (event type and channel filter) and wait there for the batching window. Each
// target sends one batch at a time, in order, so a channel's events reach it in the order the
// owner shard saw them; a failed batch is retried with growing gaps until its time is up, and
// later events wait behind it. Every event counts against its app's bound until it is sent or
// dropped.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/webhook/event.h"

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ringcast::webhook {

// One target of one app, and its queue. The target and the app's credentials are copies, so a
// reload that changes or removes them does not disturb a batch already being sent.
struct target_queue {
    std::uint32_t app = 0;
    std::string app_id, app_key, app_secret;
    config::webhook_target target;

    std::deque<std::string> waiting; // event JSON objects, oldest first
    std::uint64_t window_due_ms = 0; // when `waiting` closes into a batch (0: empty)

    // The batch being sent or waiting to be retried (empty body: none).
    std::string body;
    std::uint32_t body_events = 0;
    std::uint64_t first_try_ms = 0;
    std::uint64_t next_try_ms = 0;
    std::uint32_t attempt = 0; // tries made so far
    bool in_flight = false;
    std::string last_error;
};

struct outbox_counters {
    std::uint64_t events_in = 0;
    std::uint64_t debounced = 0;       // pairs cancelled inside the de-bounce delay
    std::uint64_t events_overflow = 0; // dropped because the app's bound was reached
    std::uint64_t batches_sent = 0;
    std::uint64_t events_sent = 0;
    std::uint64_t batches_dropped = 0; // out of retry time
    std::uint64_t events_dropped = 0;
    std::uint64_t retries = 0;
};

class outbox {
public:
    explicit outbox(const config::webhook_settings& s, std::uint64_t seed = 0x9e3779b97f4a7c15ULL);

    // The configuration generation whose apps' targets receive released events.
    void set_config(const config::server* settings) { config_ = settings; }

    // False when the event was dropped: its app already has max_pending_events waiting.
    bool add(event ev, std::uint64_t now_ms);
    // Releases held events whose delay is over (all of them with `flush`, at shutdown) and closes
    // batches whose window is over or that are full. `wall_ms` stamps new bodies' time_ms.
    void advance(std::uint64_t now_ms, std::uint64_t wall_ms, bool flush = false);
    // Targets with a batch due now and none in flight; the caller sends each and reports back.
    void ready(std::uint64_t now_ms, std::vector<target_queue*>& out);
    void on_sent(target_queue& q);
    // Schedules the next try, or drops the batch when its time is up (returns false then).
    bool on_failed(target_queue& q, std::uint64_t now_ms, std::string reason);

    // The earliest time anything is due (held release, window close, retry); UINT64_MAX if none.
    [[nodiscard]] std::uint64_t next_due() const;
    // Nothing held, waiting or being sent.
    [[nodiscard]] bool empty() const;
    [[nodiscard]] const outbox_counters& counters() const noexcept { return counters_; }
    [[nodiscard]] std::uint64_t pending(std::uint32_t app) const;
    [[nodiscard]] const std::vector<std::unique_ptr<target_queue>>& queues() const noexcept {
        return queues_;
    }

private:
    struct held {
        event ev;
        std::uint64_t release_ms;
        std::string key;
    };

    static std::string hold_key(const event& ev);
    bool cancels_held(const event& ev);
    void release(const event& ev, std::uint64_t now_ms);
    target_queue& queue_for(std::uint32_t app, const config::app& a, const config::webhook_target& t);
    void close_batch(target_queue& q, std::uint64_t now_ms, std::uint64_t wall_ms);
    void count_pending(std::uint32_t app, std::int64_t delta);
    std::uint64_t backoff_ms(std::uint32_t attempt);

    config::webhook_settings settings_;
    const config::server* config_ = nullptr;
    std::list<held> held_; // release times only grow: one delay for all
    std::unordered_map<std::string, std::list<held>::iterator> held_by_key_;
    std::vector<std::unique_ptr<target_queue>> queues_;
    std::unordered_map<std::string, target_queue*> queue_by_key_;
    std::unordered_map<const config::webhook_target*, target_queue*> queue_by_target_;
    std::vector<std::uint64_t> pending_; // per app
    outbox_counters counters_;
    std::uint64_t rng_;
};

} // namespace ringcast::webhook
