// The takeover journal: what a new server replays to subscribers arriving after a restart.
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/replay.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringcast;
using ringcast::pusher::replay_journal;

namespace {

std::vector<std::string> texts(const std::vector<net::frame_ref>& frames) {
    std::vector<std::string> out;
    for (const net::frame_ref& f : frames) {
        out.emplace_back(pusher::payload_of(*f));
    }
    return out;
}

net::frame_ref event(std::string_view name, std::string_view channel, std::string_view data) {
    return pusher::channel_event(name, channel, data);
}

} // namespace

TEST(replay_journal, replays_a_channels_events_in_order_during_the_window) {
    replay_journal j;
    j.open(1000, 10'000);
    j.record(0, "orders", event("a", "orders", "1"), 1001);
    j.record(0, "news", event("b", "news", "2"), 1002);
    j.record(0, "orders", event("c", "orders", "3"), 1003);
    j.record(1, "orders", event("d", "orders", "4"), 1004); // another app
    std::vector<std::string> got = texts(j.missed(0, "orders", 2000));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_NE(got[0].find(R"("event":"a")"), std::string::npos) << got[0];
    EXPECT_NE(got[1].find(R"("event":"c")"), std::string::npos) << got[1];
}

TEST(replay_journal, records_and_replays_nothing_outside_the_window) {
    replay_journal plain;
    plain.open(1000, 0); // a plain start
    plain.record(0, "orders", event("a", "orders", "1"), 1001);
    EXPECT_TRUE(plain.missed(0, "orders", 1002).empty());

    replay_journal j;
    j.open(1000, 5000);
    j.record(0, "orders", event("a", "orders", "1"), 1001);
    EXPECT_EQ(j.missed(0, "orders", 5999).size(), 1u);
    EXPECT_TRUE(j.missed(0, "orders", 6000).empty());
    j.record(0, "orders", event("b", "orders", "2"), 6001);
    EXPECT_FALSE(j.recording(6001));
}

TEST(replay_journal, leaves_out_the_protocols_own_events_and_cache_channels) {
    replay_journal j;
    j.open(0, 10'000);
    j.record(0, "presence-room", event("pusher_internal:member_added", "presence-room", "{}"), 1);
    j.record(0, "presence-room", event("moved", "presence-room", "{}"), 2);
    j.record(0, "cache-prices", event("tick", "cache-prices", "1"), 3);
    EXPECT_EQ(j.missed(0, "presence-room", 4).size(), 1u);
    EXPECT_TRUE(j.missed(0, "cache-prices", 4).empty());
}

TEST(replay_journal, stops_recording_when_full_rather_than_growing) {
    replay_journal j;
    j.open(0, 10'000);
    for (std::size_t i = 0; i <= replay_journal::max_entries; ++i) {
        j.record(0, "busy", event("e", "busy", "x"), 1);
    }
    EXPECT_FALSE(j.recording(2)); // and says so in the log
    EXPECT_TRUE(j.missed(0, "busy", 2).empty());
}
