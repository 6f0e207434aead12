// Pusher's names of the webhook events, both ways.
#include "ringcast/config/config.h"

#include <array>

namespace ringcast::config {
namespace {

constexpr std::array<std::string_view, webhook_kind_count> names = {
    "channel_occupied", "channel_vacated", "member_added",       "member_removed",
    "client_event",     "cache_miss",      "subscription_count",
};

} // namespace

std::string_view webhook_kind_name(webhook_kind k) noexcept {
    return names[static_cast<unsigned>(k)];
}

std::optional<webhook_kind> webhook_kind_from_name(std::string_view name) noexcept {
    for (unsigned i = 0; i < names.size(); ++i) {
        if (names[i] == name) {
            return static_cast<webhook_kind>(i);
        }
    }
    return std::nullopt;
}

} // namespace ringcast::config
