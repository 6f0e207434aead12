// Server-to-client Pusher messages, each returned as a ready-to-send WebSocket text frame.
// System events carry `data` as a JSON-encoded string (Pusher's "double encoding"), which every
// client library accepts; pusher:error carries an object, as hosted Pusher sends it.
#pragma once

#include "ringcast/net/frame.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::pusher {

[[nodiscard]] net::frame_ref connection_established(std::string_view socket_id,
                                                    std::uint32_t activity_timeout_s);
// `code` empty => "code":null (errors that are not one of the protocol's numbered cases).
[[nodiscard]] net::frame_ref error(std::optional<std::uint16_t> code, std::string_view message);
[[nodiscard]] net::frame_ref pong();
[[nodiscard]] net::frame_ref ping();
[[nodiscard]] net::frame_ref subscription_succeeded(std::string_view channel);
// Presence variant: `presence_data` is {"presence":{"ids":...,"hash":...,"count":N}} as JSON text.
[[nodiscard]] net::frame_ref subscription_succeeded(std::string_view channel, std::string_view presence_data);
// That presence_data from (user id, user_info JSON text) pairs, in the order given.
[[nodiscard]] std::string
presence_data(const std::vector<std::pair<std::string_view, std::string_view>>& members);
// pusher_internal:member_added / member_removed for a channel's subscribers.
[[nodiscard]] net::frame_ref member_added(std::string_view channel, std::string_view user_id,
                                          std::string_view user_info);
[[nodiscard]] net::frame_ref member_removed(std::string_view channel, std::string_view user_id);
[[nodiscard]] net::frame_ref cache_miss(std::string_view channel);
[[nodiscard]] net::frame_ref subscription_count(std::string_view channel, std::uint32_t count);
[[nodiscard]] net::frame_ref signin_success(std::string_view user_data);
[[nodiscard]] net::frame_ref watchlist_events(const std::vector<std::string>& online,
                                              const std::vector<std::string>& offline);
// A client event as relayed: `data_json` is the sender's data as JSON text (string or object,
// passed on as sent); `user_id` is added on presence channels.
[[nodiscard]] net::frame_ref client_event(std::string_view event, std::string_view channel,
                                          std::string_view data_json, std::string_view user_id);
// Sent with the channel so pusher-js routes it to that channel (Echo's .error() fires).
[[nodiscard]] net::frame_ref subscription_error(std::string_view channel, std::string_view type,
                                                std::string_view message, int status);

// A channel event {"event":...,"channel":...,"data":...}: encoded once per publish and shared
// by every subscriber. `data` is the event's data string (JSON-escaped here).
[[nodiscard]] net::frame_ref channel_event(std::string_view event, std::string_view channel,
                                           std::string_view data);

// The JSON text of a message, for --debug logging of frames we built.
[[nodiscard]] std::string_view payload_of(const net::frame& f) noexcept;

} // namespace ringcast::pusher
