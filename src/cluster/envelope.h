// The messages nodes exchange over Redis pub/sub, as text with lengths up front (so app ids,
// channels, user ids and frames may hold any byte), built and parsed without I/O.
//
//   "rc1 <node> <seq> <except> <#app> <#channel>\n<app><channel><frame>"
//       a broadcast (HTTP API event, client event) from node <node>, its <seq>th; or, with the
//       channel "#terminate", terminate_connections for the user named where the frame goes.
//   "rcs <op> <except> <skip node> <#app> <#channel> <#user>\n<app><channel><user><payload>"
//       what a shared-state script announced (scripts.cpp): op a member added (payload:
//       user_info), r member removed, c subscription count (payload: the count).
//   "rcj <token> ok\n<presence data>" or "rcj <token> full\n"
//       on a node's own channel: the answer to one of its presence joins.
//   A broadcast envelope with the channel "#console": a debug console on <node> watches the app.
//   "rcc <#node> <#app> <connections> <dropped> <#connections> <#channels>\n<node><app>
//    <connections JSON items><channels JSON items><events JSON items>"
//       on a watching node's own channel: another node's part of the console's view.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::cluster {

// The "channel" of a terminate_connections message: no Pusher channel can be named so.
inline constexpr std::string_view terminate_channel = "#terminate";
// The "channel" of "a debug console watches this app" (server/console.h).
inline constexpr std::string_view console_channel = "#console";

struct parsed_envelope {
    std::string_view node, app_id, channel, frame;
    std::uint64_t seq = 0;
    std::uint64_t except = 0;
};

struct state_event {
    char op = 0;
    std::uint64_t except = 0;
    std::string_view skip_node, app_id, channel, user, payload;
};

[[nodiscard]] std::string envelope(const std::string& node, std::uint64_t seq, const std::string& app_id,
                                   const std::string& channel, std::uint64_t except, std::string_view frame);
[[nodiscard]] bool parse_envelope(std::string_view text, parsed_envelope& out);
[[nodiscard]] bool parse_state_event(std::string_view text, state_event& out);

} // namespace ringcast::cluster
