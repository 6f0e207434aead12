// The names an app key of the JSON file may be written under: camelCase as well as snake_case,
// and other servers' names (Reverb's, soketi's) for our settings.
#include "detail.h"

namespace ringcast::config::detail {
namespace {

bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}

struct alias {
    std::string_view name;
    std::string_view setting;
};

// Reverb's app_id and soketi's per-app limits. The unit-bearing ones ("_in_kb") are converted
// where they are read.
// One alias per line reads as the table it is.
// clang-format off
constexpr alias app_aliases[] = {
    {"app_id", "id"},
    {"enable_client_messages", "accept_client_events_from"},
    {"max_presence_members_per_channel", "max_presence_members"},
    {"max_presence_member_size_in_kb", "max_presence_member_size"},
    {"max_event_channels_at_once", "max_event_channels"},
    {"max_event_payload_in_kb", "max_event_payload_bytes"},
    {"max_event_batch_size", "max_batch_size"},
};
// clang-format on

} // namespace

std::string snake_case(std::string_view key) {
    // Only a pure camelCase key is converted, so a mixed "max_Connections" stays unknown rather
    // than being guessed at.
    bool camel = !key.empty() && is_lower(key.front());
    for (char c : key) {
        camel = camel && (is_lower(c) || is_upper(c) || (c >= '0' && c <= '9'));
    }
    std::string out;
    for (char c : key) {
        if (camel && is_upper(c)) {
            out += '_';
            c = static_cast<char>(c - 'A' + 'a');
        }
        out += c;
    }
    return out;
}

std::string_view app_setting(std::string_view key) {
    for (const alias& a : app_aliases) {
        if (a.name == key) {
            return a.setting;
        }
    }
    return key;
}

} // namespace ringcast::config::detail
