// The development default app is for trying ringcast out: its secret is in the README, so
// whoever can reach the port can publish to every channel and sign any private subscription.
// Served beyond loopback only when asked for by name (--allow-dev-credentials).
#include "detail.h"

#include <algorithm>

namespace ringcast::config::detail {

bool is_loopback(std::string_view host) noexcept {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

namespace {

// deploy/ringcast.example.json's secrets ("replace-with-a-long-random-secret"), which the
// package installs as its config: public too, and a sign the file was not edited yet.
core::status refuse_placeholder(const flags& f, const server& s) {
    for (const app& a : s.apps) {
        if (a.secret.starts_with("replace-with-")) {
            return core::failure(
                "app " + in_quotes(a.id) + " in " + f.config_file.value_or("the config file") +
                " still has the example's placeholder secret " + in_quotes(a.secret) +
                ": put your apps' ids, keys and secrets there (e.g. a secret from `openssl rand -hex 32`)");
        }
    }
    return core::ok();
}

} // namespace

core::status refuse_dev_credentials(const environment& env, const flags& f, const server& s) {
    if (core::status placeholder = refuse_placeholder(f, s); !placeholder) {
        return placeholder;
    }
    bool dev =
        std::any_of(s.apps.begin(), s.apps.end(), [](const app& a) { return a.secret == dev_app_secret; });
    if (!dev || f.allow_dev_credentials || is_loopback(s.host)) {
        return core::ok();
    }
    std::string where = s.apps_source == "config file"
                            ? "an app in " + f.config_file.value_or("the config file") + " has"
                            : "no REVERB_APP_ID/KEY/SECRET in " + searched(env) + ", so the apps would be";
    return core::failure(
        "refusing to listen on " + s.host + ":" + std::to_string(s.port) +
        " with the development app's secret \"" + std::string(dev_app_secret) + "\" (" + where +
        " the development default): anyone who can reach the port could publish to every channel and sign "
        "private subscriptions. Set REVERB_APP_ID, REVERB_APP_KEY and REVERB_APP_SECRET (or --config), "
        "listen on 127.0.0.1 (--host), or pass --allow-dev-credentials to serve it anyway");
}

} // namespace ringcast::config::detail
