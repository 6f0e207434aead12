// The Pusher messages a bench client sends beyond the handshake: pusher:subscribe (signed for
// private and presence channels, spec §1.8), pusher:unsubscribe, and client events (§1.10).
#pragma once

#include "options.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

// {"event":"pusher:subscribe","data":{"channel":C,"auth":A[,"channel_data":D]}}. A is empty for a
// public channel, else key:hex(HMAC-SHA256(secret, socket_id:channel[:channel_data])).
[[nodiscard]] std::string subscribe_message(const target& server, std::string_view socket_id,
                                            std::string_view channel, bool sign,
                                            std::string_view channel_data = {});

[[nodiscard]] std::string unsubscribe_message(std::string_view channel);

// A presence member's channel_data: {"user_id":ID,"user_info":{"seq":S,"t":T}}. The stamp rides in
// user_info, so observers read the join's send time straight from member_added.
[[nodiscard]] std::string presence_member(std::string_view user_id, std::uint64_t seq, std::uint64_t t_ns);

// {"event":"client-bench","channel":C,"data":{"seq":S,"t":T}}
[[nodiscard]] std::string client_event_message(std::string_view channel, std::uint64_t seq,
                                               std::uint64_t t_ns);

} // namespace ringcast::bench
