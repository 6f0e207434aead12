// `ringcast doctor --env FILE`: checks a Laravel app's broadcasting settings against a running
// ringcast, the way "WebSocket connection failed" and "events don't arrive" are debugged by
// hand: the .env's broadcaster variables and their VITE_* copies, known typos, then the
// server itself at the address the app publishes to (reachable, WebSocket handshake with the
// key, a signed publish with the id and secret, the TLS certificate for https). One verdict per
// line, each failure with its fix.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/core/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::doctor {

struct verdict {
    // warn: likely a mistake, but a set-up can mean it (no failure exit status).
    enum class kind { ok, warn, fail, skip } what = kind::ok;
    std::string subject; // what was checked, with the values found
    std::string fix;     // for a failure: what to change
};

// The broadcaster settings Laravel would use, read from the .env (process environment first,
// as Laravel's env() does).
struct broadcaster {
    std::string env_file;
    std::string connection; // BROADCAST_CONNECTION (or BROADCAST_DRIVER): reverb or pusher
    std::string prefix;     // "REVERB_" or "PUSHER_"
    std::string app_id, key, secret;
    std::string host;
    std::uint16_t port = 443; // Laravel's default for both broadcasters
    std::string scheme = "https";
};

// Reads the .env. Fails when the file cannot be read or parsed.
[[nodiscard]] core::result<config::variables> read_env(const std::string& file, const char* const* envp);

// The checks on the variables alone; fills `out` with what the server checks need.
[[nodiscard]] std::vector<verdict> check_settings(const config::variables& vars, const std::string& env_file,
                                                  broadcaster& out);

// The checks against the server at out's host, port and scheme.
[[nodiscard]] std::vector<verdict> check_server(const broadcaster& b);

// Runs every check, prints one line per verdict, returns the exit status (1 on any failure).
int run(const std::string& env_file, const char* const* envp);

} // namespace ringcast::doctor
