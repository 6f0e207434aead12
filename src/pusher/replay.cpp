// The takeover journal (replay.h): recording during the window, replaying a channel's events.
#include "ringcast/pusher/replay.h"

#include "ringcast/core/log.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/messages.h"

namespace ringcast::pusher {

void replay_journal::record(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                            std::uint64_t now_ms) {
    if (!recording(now_ms) || is_cache(kind_of(channel))) {
        return;
    }
    if (payload_of(*frame).starts_with(R"({"event":"pusher)")) {
        return; // member_added, subscription_count...: the subscription's own answers carry them
    }
    if (entries_.size() == max_entries) {
        RC_LOG_WARN(
            "restart: more than %zu events in the takeover window; clients arriving later may miss some",
            max_entries);
        until_ms_ = 0;
        return;
    }
    entries_.push_back({app, std::string(channel), frame});
}

std::vector<net::frame_ref> replay_journal::missed(std::uint32_t app, std::string_view channel,
                                                   std::uint64_t now_ms) const {
    std::vector<net::frame_ref> out;
    if (!recording(now_ms)) {
        return out;
    }
    for (const entry& e : entries_) {
        if (e.app == app && e.channel == channel) {
            out.push_back(e.frame);
        }
    }
    return out;
}

} // namespace ringcast::pusher
