// The webhook outbox over a fake clock: de-bounce, filters, batching windows and sizes, the
// retry schedule, and the per-app bound.
#include "ringcast/webhook/outbox.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using ringcast::config::webhook_kind;
using ringcast::webhook::event;
using ringcast::webhook::outbox;
using ringcast::webhook::target_queue;

namespace {

ringcast::config::webhook_target target(std::string url, std::string prefix = {}) {
    ringcast::config::webhook_target t;
    t.url = std::move(url);
    t.host = "127.0.0.1";
    t.event_types = (1U << ringcast::config::webhook_kind_count) - 1;
    t.channel_prefix = std::move(prefix);
    return t;
}

struct fixture {
    ringcast::config::server settings;
    ringcast::config::webhook_settings hooks;
    std::unique_ptr<outbox> box;

    explicit fixture(std::vector<ringcast::config::webhook_target> targets = {target("http://a/")}) {
        ringcast::config::app a;
        a.id = "1";
        a.key = "key";
        a.secret = "secret";
        a.webhooks = std::move(targets);
        settings.apps.push_back(a);
        hooks.batch_window_ms = 50;
        hooks.debounce_ms = 3000;
        hooks.retry_initial_ms = 100;
        hooks.retry_max_ms = 1000;
        hooks.retry_for_ms = 2000;
        reset();
    }
    void reset() {
        box = std::make_unique<outbox>(hooks);
        box->set_config(&settings);
    }
    void add(webhook_kind k, std::string channel, std::uint64_t now, std::string user = {}) {
        event ev;
        ev.kind = k;
        ev.channel = std::move(channel);
        ev.user_id = std::move(user);
        box->add(std::move(ev), now);
    }
    std::vector<target_queue*> due(std::uint64_t now) {
        box->advance(now, 1'700'000'000'000ULL + now);
        std::vector<target_queue*> out;
        box->ready(now, out);
        return out;
    }
};

} // namespace

TEST(webhook_outbox, events_inside_the_window_go_out_as_one_batch_in_order) {
    fixture f;
    f.add(webhook_kind::channel_occupied, "a", 0);
    f.add(webhook_kind::member_added, "a", 10, "u1");
    EXPECT_TRUE(f.due(49).empty());
    auto due = f.due(50);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0]->body, R"({"time_ms":1700000000050,"events":[{"name":"channel_occupied","channel":"a"},)"
                            R"({"name":"member_added","channel":"a","user_id":"u1"}]})");
    EXPECT_EQ(due[0]->body_events, 2U);
}

TEST(webhook_outbox, a_full_batch_goes_at_once_and_the_rest_follows_it) {
    fixture f;
    f.hooks.batch_max_events = 2;
    f.reset();
    for (int i = 0; i < 5; ++i) {
        f.add(webhook_kind::channel_occupied, "c" + std::to_string(i), 0);
    }
    auto due = f.due(0);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0]->body_events, 2U);
    due[0]->in_flight = true;
    EXPECT_TRUE(f.due(1).empty()); // one batch at a time per target
    f.box->on_sent(*due[0]);
    due = f.due(1);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_NE(due[0]->body.find("\"c2\""), std::string::npos);
}

TEST(webhook_outbox, a_vacate_and_reoccupy_inside_the_delay_sends_nothing) {
    fixture f;
    f.add(webhook_kind::member_removed, "presence-a", 0, "u1");
    f.add(webhook_kind::channel_vacated, "presence-a", 0);
    f.add(webhook_kind::channel_occupied, "presence-a", 1000);
    f.add(webhook_kind::member_added, "presence-a", 1000, "u1");
    EXPECT_TRUE(f.due(5000).empty());
    EXPECT_TRUE(f.box->empty());
    EXPECT_EQ(f.box->counters().debounced, 2U);
}

TEST(webhook_outbox, a_vacate_goes_out_after_the_delay_after_its_member_removed) {
    fixture f;
    f.add(webhook_kind::member_removed, "presence-a", 0, "u1");
    f.add(webhook_kind::channel_vacated, "presence-a", 0);
    f.add(webhook_kind::member_added, "presence-a", 10, "u2"); // someone else: not a cancel
    EXPECT_TRUE(f.due(2999).size() == 1);                      // u2's member_added, not held
    f.box->on_sent(*f.box->queues()[0]);
    EXPECT_TRUE(f.due(3000).empty()); // released now, then the batching window
    auto due = f.due(3050);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_LT(due[0]->body.find("member_removed"), due[0]->body.find("channel_vacated"));
}

TEST(webhook_outbox, filters_and_event_types_pick_the_targets) {
    auto only_presence = target("http://p/", "presence-");
    only_presence.event_types = 1U << static_cast<unsigned>(webhook_kind::channel_occupied);
    fixture f({target("http://all/"), only_presence});
    f.add(webhook_kind::channel_occupied, "presence-a", 0);
    f.add(webhook_kind::channel_occupied, "private-b", 0);
    f.add(webhook_kind::member_added, "presence-a", 0, "u");
    auto due = f.due(100);
    ASSERT_EQ(due.size(), 2U);
    for (target_queue* q : due) {
        if (q->target.url == "http://p/") {
            EXPECT_EQ(q->body_events, 1U);
            EXPECT_NE(q->body.find("presence-a"), std::string::npos);
        } else {
            EXPECT_EQ(q->body_events, 3U);
        }
    }
}

TEST(webhook_outbox, a_failed_batch_is_retried_with_growing_gaps_then_dropped) {
    fixture f;
    f.add(webhook_kind::channel_occupied, "a", 0);
    auto due = f.due(50);
    ASSERT_EQ(due.size(), 1U);
    target_queue& q = *due[0];
    std::string body = q.body;
    std::uint64_t now = 50;
    std::vector<std::uint64_t> gaps;
    while (true) {
        q.in_flight = true;
        ++q.attempt;
        if (!f.box->on_failed(q, now, "HTTP 500")) {
            break;
        }
        gaps.push_back(q.next_try_ms - now);
        now = q.next_try_ms;
        auto again = f.due(now);
        ASSERT_EQ(again.size(), 1U);
        EXPECT_EQ(again[0]->body, body); // the same batch, byte for byte
    }
    ASSERT_GE(gaps.size(), 3U);
    for (std::size_t i = 1; i < gaps.size() && gaps[i - 1] * 2 <= f.hooks.retry_max_ms; ++i) {
        EXPECT_GT(gaps[i], gaps[i - 1]);
    }
    EXPECT_LE(now, 50 + f.hooks.retry_for_ms);
    EXPECT_EQ(f.box->counters().batches_dropped, 1U);
    EXPECT_EQ(f.box->pending(0), 0U);
    EXPECT_TRUE(f.box->empty());
}

TEST(webhook_outbox, an_app_at_its_bound_drops_new_events_and_counts_them) {
    fixture f;
    f.hooks.max_pending_events = 3;
    f.reset();
    for (int i = 0; i < 5; ++i) {
        f.add(webhook_kind::channel_occupied, "c" + std::to_string(i), 0);
    }
    EXPECT_EQ(f.box->pending(0), 3U);
    EXPECT_EQ(f.box->counters().events_overflow, 2U);
}

TEST(webhook_outbox, flush_releases_held_events_at_shutdown) {
    fixture f;
    f.add(webhook_kind::channel_vacated, "a", 0);
    f.box->advance(1, 1, true);
    std::vector<target_queue*> due;
    f.box->ready(1, due);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_NE(due[0]->body.find("channel_vacated"), std::string::npos);
}
