// pusher:signin, the signed-in user's server-to-user channel, and watchlists.
#include "detail.h"
#include "ringcast/auth/client.h"
#include "ringcast/core/log.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/session.h"

#include <algorithm>
#include <map>
#include <memory>

namespace ringcast::pusher {

// A refused sign-in ends the connection: pusher:error 4009, then close 4009. 4000-4099 tells
// pusher-js not to reconnect with the same parameters, which is right for credentials that will
// not get better by retrying (soketi does the same); leaving the connection open would let a
// client probe signatures at the WebSocket's message rate.
void session::refuse_signin(std::string_view message) {
    RC_LOG_INFO("auth failure: app %s, %s: pusher:signin refused: %.*s", ctx_.app(app_).id.c_str(),
                socket_id().c_str(), static_cast<int>(message.size()), message.data());
    if (ctx_.console_watching(app_)) {
        ctx_.console_record({.kind = console_kind::auth_failed,
                             .app = app_,
                             .socket = key_,
                             .reason = "pusher:signin refused: " + std::string(message)});
    }
    close_with(code::unauthorized, message);
}

void session::handle_signin(simdjson::dom::element data) {
    const config::app& a = ctx_.app(app_);
    simdjson::dom::object obj;
    std::string copy;
    if (!detail::data_object(data, ctx_.scratch_json(), copy, obj)) {
        refuse_signin("pusher:signin data must be an object with auth and user_data");
        return;
    }
    std::string_view auth;
    std::string_view user_data;
    if (obj["auth"].get_string().get(auth) || obj["user_data"].get_string().get(user_data)) {
        refuse_signin("pusher:signin needs auth and user_data (a JSON string)");
        return;
    }
    std::string to_sign = auth::signin_string_to_sign(socket_id(), user_data);
    switch (ctx_.stats().checked(auth::check_auth(a.key, a.secret, auth, to_sign))) {
    case auth::auth_check::ok:
        break;
    case auth::auth_check::missing:
    case auth::auth_check::malformed:
    case auth::auth_check::wrong_key:
        refuse_signin("Invalid auth for pusher:signin: should be '" + a.key + ":signature'");
        return;
    case auth::auth_check::wrong_signature:
        refuse_signin("Invalid signature: Expected HMAC SHA256 hex digest of " + to_sign + ", but got " +
                      std::string(auth.substr(auth.find(':') + 1)));
        return;
    }
    // user_data is parsed by the second parser; copy it first, the views above live in the first.
    std::string user_data_copy(user_data);
    simdjson::dom::parser& p = ctx_.user_json();
    simdjson::dom::element root;
    simdjson::dom::object user;
    std::string_view id;
    if (p.parse(user_data_copy).get(root) || root.get_object().get(user) || user["id"].get_string().get(id) ||
        id.empty()) {
        refuse_signin("user_data must be a JSON object with a non-empty string \"id\"");
        return;
    }
    extras& x = more();
    if (!x.user_id.empty() && x.user_id != id) {
        refuse_signin("This connection is already signed in as user " + x.user_id);
        return;
    }
    bool first = x.user_id.empty();
    x.user_id = id;
    simdjson::dom::element info;
    x.user_info = user["user_info"].get(info) ? std::string("null") : simdjson::minify(info);
    authorized_ = true;
    send(signin_success(user_data_copy));
    if (!first) {
        return;
    }
    auto online = std::make_unique<user_presence_mail>();
    online->app = app_;
    online->user_id = x.user_id;
    online->delta = 1;
    ctx_.io().post(ctx_.user_owner_of(app_, x.user_id), std::move(online));

    simdjson::dom::array list;
    if (user["watchlist"].get_array().get(list)) {
        return;
    }
    size_t total = 0;
    for (simdjson::dom::element e : list) {
        std::string_view w;
        if (e.get_string().get(w) || w.empty()) {
            continue;
        }
        ++total;
        if (x.watchlist.size() < a.watchlist_limit) {
            x.watchlist.emplace_back(w);
        }
    }
    if (total > a.watchlist_limit) {
        send_error(code::watchlist_limit, "Watchlist limit exceeded. Only the first " +
                                              std::to_string(a.watchlist_limit) + " user IDs are accepted.");
    }
    post_watch(true);
}

void session::post_watch(bool add) {
    std::map<unsigned, std::unique_ptr<watch_mail>> by_owner;
    for (const std::string& w : view().watchlist) {
        auto& m = by_owner[ctx_.user_owner_of(app_, w)];
        if (!m) {
            m = std::make_unique<watch_mail>();
            m->app = app_;
            m->socket = key_;
            m->watcher_shard = ctx_.io().index();
            m->add = add;
        }
        m->user_ids.push_back(w);
    }
    for (auto& [owner, m] : by_owner) {
        ctx_.io().post(owner, std::move(m));
    }
}

void session::on_watch_status(const watch_status_mail& m) {
    extras& x = more();
    x.watch_told.resize(x.watchlist.size(), -1);
    // Only what the client was not told already, so each change reaches it once.
    auto news = [&x](const std::vector<std::string>& ids, std::int8_t state) {
        std::vector<std::string> out;
        for (const std::string& id : ids) {
            auto it = std::find(x.watchlist.begin(), x.watchlist.end(), id);
            if (it == x.watchlist.end()) {
                continue; // signed out (or re-signed) since the owner answered
            }
            std::int8_t& told = x.watch_told[static_cast<std::size_t>(it - x.watchlist.begin())];
            if (told != state) {
                told = state;
                out.push_back(id);
            }
        }
        return out;
    };
    std::vector<std::string> online = news(m.online, 1);
    std::vector<std::string> offline = news(m.offline, 0);
    if (!online.empty() || !offline.empty()) {
        send(watchlist_events(online, offline));
    }
}

void session::sign_out() {
    if (!more_ || more_->user_id.empty()) {
        return;
    }
    extras& x = *more_;
    auto offline = std::make_unique<user_presence_mail>();
    offline->app = app_;
    offline->user_id = x.user_id;
    offline->delta = -1;
    ctx_.io().post(ctx_.user_owner_of(app_, x.user_id), std::move(offline));
    post_watch(false);
    x.watchlist.clear();
    x.watch_told.clear();
    x.user_id.clear();
}

} // namespace ringcast::pusher
