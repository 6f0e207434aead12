// What the Pusher layer of one shard counts: per app, the figures soketi exports (connections,
// WebSocket messages and bytes, HTTP API calls and bytes); for the whole shard, broadcasts and
// deliveries, subscriptions and channels by kind, auth failures and refused client events by
// reason, close codes sent. Written by the shard's thread only, read by the metrics scrape
// (core/metrics.h says how).
#pragma once

#include "ringcast/auth/client.h"
#include "ringcast/core/metrics.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/shared_counters.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast::pusher {

struct app_metrics {
    core::counter new_connections; // WebSocket sessions opened
    core::counter disconnections;  // ... and closed
    core::counter ws_messages_received;
    core::counter ws_messages_sent;    // frames queued: direct answers and each fan-out delivery
    core::counter ws_bytes_received;   // message payloads
    core::counter ws_bytes_sent;       // frames, WebSocket header included
    core::counter http_calls;          // HTTP API requests that named the app
    core::counter http_bytes_received; // their bodies
    core::counter http_bytes_sent;     // their responses, headers included
};

// Why a signature (subscription or sign-in) was refused.
enum class auth_failure : std::uint8_t {
    missing,         // no auth given
    malformed,       // not "key:signature"
    wrong_key,       // another app's key
    wrong_signature, // the HMAC does not match
    not_signed_in,   // #server-to-user-{id} before pusher:signin, or another user's
    count
};
inline constexpr const char* auth_failure_names[] = {"missing", "malformed", "wrong_key", "wrong_signature",
                                                     "not_signed_in"};
// The reason a failed signature check gives (never called with ok).
constexpr auth_failure reason_of(auth::auth_check c) noexcept {
    switch (c) {
    case auth::auth_check::missing:
        return auth_failure::missing;
    case auth::auth_check::malformed:
        return auth_failure::malformed;
    case auth::auth_check::wrong_key:
        return auth_failure::wrong_key;
    default:
        return auth_failure::wrong_signature;
    }
}

// Why a client event was not relayed.
enum class client_event_refusal : std::uint8_t {
    disabled,       // the app does not accept client events
    malformed,      // no channel
    channel_kind,   // not a private or presence channel (or an encrypted one)
    not_subscribed, // the sender is not a member and the app requires it
    name_too_long,
    rate_limited,
    count
};
inline constexpr const char* client_event_refusal_names[] = {
    "disabled", "malformed", "channel_kind", "not_subscribed", "name_too_long", "rate_limited"};

inline constexpr std::size_t channel_kinds = 9; // channel_kind's values
inline constexpr const char* channel_kind_names[channel_kinds] = {
    "public",        "private",       "presence",       "private-encrypted",
    "cache",         "private-cache", "presence-cache", "private-encrypted-cache",
    "server-to-user"};

// The close codes counted one by one; any other is counted as "other".
inline constexpr std::uint16_t counted_close_codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011,
                                                        4000, 4001, 4003, 4004, 4005, 4006, 4007, 4008,
                                                        4009, 4100, 4200, 4201, 4202, 4301, 4302};

class metrics {
public:
    // One slot per app a reload could ever add (shared_counters::max_apps), so slots never move.
    metrics() : apps_(std::make_unique<app_metrics[]>(shared_counters::max_apps)) {}

    app_metrics& app(std::size_t i) noexcept { return apps_[i]; }
    const app_metrics& app(std::size_t i) const noexcept { return apps_[i]; }

    void auth_failed(auth_failure why) noexcept { auth_failures[static_cast<std::size_t>(why)].add(); }
    // Counts a signature check's failure, if it failed; returns its result.
    auth::auth_check checked(auth::auth_check c) noexcept {
        if (c != auth::auth_check::ok) {
            auth_failed(reason_of(c));
        }
        return c;
    }
    void client_event_refused(client_event_refusal why) noexcept {
        client_events_rejected[static_cast<std::size_t>(why)].add();
    }
    void close_sent(std::uint16_t code) noexcept {
        std::size_t i = 0;
        while (i < std::size(counted_close_codes) && counted_close_codes[i] != code) {
            ++i;
        }
        close_codes[i].add(); // [size] is "other"
    }

    core::counter broadcasts; // publishes fanned out on this shard (each shard counts its own)
    core::counter deliveries; // frames queued for subscribers by those fan-outs
    std::array<core::counter, channel_kinds> subscriptions;       // gauge: this shard's subscribers
    std::array<core::counter, channel_kinds> subscriptions_total; // subscribes that succeeded
    std::array<core::counter, channel_kinds> channels;            // gauge: occupied channels it owns
    std::array<core::counter, static_cast<std::size_t>(auth_failure::count)> auth_failures;
    std::array<core::counter, static_cast<std::size_t>(client_event_refusal::count)> client_events_rejected;
    std::array<core::counter, std::size(counted_close_codes) + 1> close_codes;

private:
    std::unique_ptr<app_metrics[]> apps_;
};

} // namespace ringcast::pusher
