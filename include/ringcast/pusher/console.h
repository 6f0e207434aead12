// What the debug console (server/console.h) sees of a shard's Pusher state: a bounded log of
// what happened on the shard (connects, subscriptions, auth failures, events, disconnects) and
// the shard's part of the live view (its connections, the channels it owns).
//
// Recording costs nothing while no console watches: each place that would record checks the
// app's watcher count (one relaxed load of a shared counter) first. While one watches, an event
// is a copy into a ring of fixed size; the console's shard pulls from every shard's ring at its
// own pace (a query_mail per poll, when its page has read the previous update), so a slow page
// loses the oldest events (counted, and shown as such) instead of slowing anyone's delivery.
#pragma once

#include "ringcast/pusher/socket_id.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringcast::pusher {

enum class console_kind : std::uint8_t {
    connected,
    disconnected,
    subscribed,
    unsubscribed,
    auth_failed,
    api_event,
    client_event,
};

struct console_event {
    std::uint64_t time_ms = 0; // unix milliseconds (set by record())
    console_kind kind = console_kind::connected;
    std::uint32_t app = 0;
    std::uint16_t code = 0; // disconnected: the close code
    socket_key socket = 0;  // 0: none (an API event without socket_id)
    std::string channel;
    std::string name;        // the event's name
    std::string data;        // the event's data (cut at max_data bytes)
    std::string reason;      // disconnected, auth_failed; connected: the origin
    std::string signed_text; // auth_failed: the string that should have been signed
    bool truncated = false;
};

// A shard's answer to a console poll: JSON array items (without the brackets) that the
// console's shard joins with the other shards' into one update.
struct console_part {
    std::string connections;
    std::string channels;
    std::string events;
    std::uint64_t connection_count = 0;
    std::uint64_t cursor = 0;  // where the next poll of this shard starts
    std::uint64_t dropped = 0; // events overwritten before this poll could take them
    unsigned shard = 0;        // the shard that answered
};

class console_log {
public:
    static constexpr std::size_t capacity = 1024;    // events kept per shard
    static constexpr std::size_t max_per_poll = 256; // events one poll takes from a shard
    static constexpr std::size_t max_data = 2048;    // bytes of an event's data shown
    // A poll's `since` for a console that has seen nothing yet: start from now.
    static constexpr std::uint64_t from_now = ~std::uint64_t{0};

    console_log();

    // Stamps and keeps `ev` (the oldest one goes when the ring is full).
    void record(console_event ev);
    // Appends to `out` the app's events from sequence `since` on (at most max_per_poll) and
    // sets its cursor and dropped count.
    void take(std::uint32_t app, std::uint64_t since, console_part& out) const;

    // Origins are few and repeat, so a session keeps a 2-byte index into this table.
    [[nodiscard]] std::uint16_t intern_origin(std::string_view origin);
    [[nodiscard]] std::string_view origin(std::uint16_t index) const noexcept;

    // Cuts `data` to max_data bytes (not inside a UTF-8 sequence); true when it cut.
    static bool cut(std::string& data);

private:
    std::vector<console_event> ring_;
    std::uint64_t next_ = 0; // sequence number of the next event recorded
    std::vector<std::string> origins_;
    std::unordered_map<std::string, std::uint16_t> origin_index_;
};

// One event as the stream's JSON object (appended to `out`).
void append_console_event(std::string& out, const console_event& ev);
// "public", "private", "encrypted", "presence", "cache", "server-to-user".
[[nodiscard]] std::string_view console_channel_type(std::string_view channel) noexcept;

} // namespace ringcast::pusher
