// Honest names: a REVERB_*, PUSHER_* or RINGCAST_* variable ringcast does not know is most
// likely a typo (the tutorial's REVERB_REVERB_PORT), and a typo silently ignored is a setting
// silently lost. Each one gets a warning with the closest known name.
#include "detail.h"

#include "ringcast/core/log.h"

#include <algorithm>
#include <iterator>
#include <numeric>
#include <vector>

namespace ringcast::config::detail {
namespace {

// Every name the server reads (see usage()), then the ones a Laravel app or Reverb sets that
// ringcast knows and leaves alone on purpose. soketi's SSL_* names need no place here: only the
// REVERB_*, PUSHER_* and RINGCAST_* prefixes are checked.
// clang-format off
constexpr std::string_view known_names[] = {
    "REVERB_SERVER_HOST", "REVERB_SERVER_PORT", "REVERB_SERVER_PATH", "REVERB_HOST",
    "REVERB_MAX_REQUEST_SIZE", "REVERB_APP_ID", "REVERB_APP_KEY", "REVERB_APP_SECRET",
    "REVERB_APP_PING_INTERVAL", "REVERB_APP_ACTIVITY_TIMEOUT", "REVERB_APP_MAX_CONNECTIONS",
    "REVERB_APP_MAX_MESSAGE_SIZE", "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM",
    "REVERB_APP_RATE_LIMITING_ENABLED", "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS",
    "REVERB_APP_RATE_LIMIT_DECAY_SECONDS", "REVERB_APP_RATE_LIMIT_TERMINATE",
    "REVERB_SCALING_ENABLED", "REVERB_SCALING_CHANNEL",
    "RINGCAST_WEBHOOK_URL", "RINGCAST_WEBHOOK_EVENTS", "RINGCAST_WEBHOOK_BATCH_MS",
    "RINGCAST_WEBHOOK_DEBOUNCE_MS", "RINGCAST_WEBHOOK_RETRY_FOR_MS", "RINGCAST_WEBHOOK_CA_FILE",
    "RINGCAST_METRICS_PORT", "RINGCAST_METRICS_HOST", "RINGCAST_LOG_LEVEL", "RINGCAST_LOG_FORMAT",
    "RINGCAST_CONSOLE", "RINGCAST_CONSOLE_TOKEN",
    "RINGCAST_TLS_CERT", "RINGCAST_TLS_KEY", "RINGCAST_TLS_PASSPHRASE", "RINGCAST_TLS_CLIENT_CA",
    "RINGCAST_TLS_MIN_VERSION", "RINGCAST_TLS_CIPHERS", "RINGCAST_TLS_PORT", "RINGCAST_TLS_HOST",
    "RINGCAST_TLS_MAX_HANDSHAKES",
    // Where the app publishes and browsers connect (config/broadcasting.php), not the server's.
    "REVERB_PORT", "REVERB_SCHEME",
    // Reverb's own: the server driver's name and the Pulse/Telescope ingest intervals.
    "REVERB_SERVER", "REVERB_PULSE_INGEST_INTERVAL", "REVERB_TELESCOPE_INGEST_INTERVAL",
    // BROADCAST_CONNECTION=pusher's settings (the app's side).
    "PUSHER_APP_ID", "PUSHER_APP_KEY", "PUSHER_APP_SECRET", "PUSHER_HOST", "PUSHER_PORT",
    "PUSHER_SCHEME", "PUSHER_APP_CLUSTER",
};
// clang-format on

// Variables of ringcast's own scripts and tests, which may be exported in the shell that runs
// the server (scripts/run passes its environment on).
constexpr std::string_view tooling_prefixes[] = {
    "RINGCAST_BUILD_DIR", "RINGCAST_SAN_BUILD_DIR", "RINGCAST_TSAN_", "RINGCAST_TEST_",   "RINGCAST_BIN",
    "RINGCAST_E2E_",      "RINGCAST_BENCH_",        "RINGCAST_FUZZ_", "RINGCAST_CHROMIUM"};

bool is_checked(std::string_view name) {
    bool ours = name.starts_with("REVERB_") || name.starts_with("PUSHER_") || name.starts_with("RINGCAST_");
    if (!ours || std::find(std::begin(known_names), std::end(known_names), name) != std::end(known_names)) {
        return false;
    }
    return std::none_of(std::begin(tooling_prefixes), std::end(tooling_prefixes),
                        [&](std::string_view p) { return name.starts_with(p); });
}

// Levenshtein distance: insertions, deletions and substitutions, one row at a time.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

void warn_unknown(std::string_view name, std::string_view where) {
    std::string_view best = closest_known_name(name);
    std::string text = std::string(where) + std::string(name) +
                       " is not a setting ringcast knows (ignored); did you mean " + std::string(best) + "?";
    if (name.find("PORT") != std::string_view::npos) {
        text += " " + std::string(port_names_explained);
    }
    RC_LOG_WARN("%s", text.c_str());
}

} // namespace

std::string_view closest_known_name(std::string_view name) {
    std::string_view best = known_names[0];
    std::size_t best_distance = edit_distance(name, best);
    for (std::string_view candidate : known_names) {
        if (std::size_t d = edit_distance(name, candidate); d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::vector<std::string> unknown_names(const variables& vars) {
    std::vector<std::string> out;
    for (const auto& [name, value] : vars) {
        if (is_checked(name)) {
            out.push_back(name);
        }
    }
    return out;
}

void warn_unknown_names(const environment& env) {
    for (const std::string& name : unknown_names(env.dotenv)) {
        warn_unknown(name, env.dotenv_file + ": ");
    }
    for (const std::string& name : unknown_names(env.process)) {
        warn_unknown(name, "environment: ");
    }
}

} // namespace ringcast::config::detail
