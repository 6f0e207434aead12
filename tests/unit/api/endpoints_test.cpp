// The HTTP API endpoints without a shard or a socket: a request in, a response or a plan out.
#include "ringcast/api/endpoints.h"
#include "ringcast/pusher/channel_name.h"

#include <gtest/gtest.h>

using namespace ringcast;

namespace {
simdjson::dom::parser& parser() {
    static simdjson::dom::parser json;
    return json;
}

// Requests for app 7 on a server of `shards` shards where a channel's owner is its name's length
// modulo the shard count, so tests can predict it.
struct fixture {
    config::app app;
    pusher::app_counters counters;
    unsigned shards = 3;

    static unsigned owner(std::string_view channel, unsigned shards) {
        return static_cast<unsigned>(channel.size() % shards);
    }

    api::request make(std::string_view method, std::string_view path, auth::params query = {},
                      std::string_view body = {}) {
        auto target = api::find_route(path);
        EXPECT_TRUE(target.ok()) << path;
        EXPECT_TRUE(api::check_method(*target, method).ok()) << method << " " << path;
        api::request r;
        r.target = std::move(*target);
        r.query = std::move(query);
        r.body = body;
        r.app = 7;
        r.config = &app;
        r.shards = {shards, [n = shards](std::string_view ch) { return owner(ch, n); }};
        r.json = &parser();
        r.counters = &counters;
        r.now_s = 1000;
        return r;
    }
};

api::plan& plan_of(core::result<api::outcome>& out) {
    EXPECT_TRUE(out.ok()) << out.error().message();
    EXPECT_TRUE(std::holds_alternative<api::plan>(out->answer));
    return std::get<api::plan>(out->answer);
}

void expect_failure(const core::result<api::outcome>& out, int code, std::string_view message) {
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().code(), code);
    EXPECT_EQ(out.error().message(), message);
}

pusher::channel_summary summary(std::string name, std::uint32_t subscriptions, std::uint32_t users = 0) {
    pusher::channel_summary s{std::move(name)};
    s.subscriptions = subscriptions;
    s.users = users;
    return s;
}
} // namespace

TEST(routes, name_the_endpoint_and_its_method) {
    auto users = api::find_route("/channels/presence-r%40om/users");
    ASSERT_TRUE(users.ok());
    EXPECT_EQ(users->which, api::endpoint::users);
    EXPECT_EQ(users->channel, "presence-r@om");
    EXPECT_EQ(users->method, "GET");
    auto terminate = api::find_route("/users/u%201/terminate_connections");
    ASSERT_TRUE(terminate.ok());
    EXPECT_EQ(terminate->which, api::endpoint::terminate_connections);
    EXPECT_EQ(terminate->user, "u 1");
    EXPECT_EQ(terminate->method, "POST");
    EXPECT_EQ(api::find_route("/batch_events")->which, api::endpoint::batch_events);
    EXPECT_EQ(api::find_route("/connections")->which, api::endpoint::connections);
}

TEST(routes, unknown_paths_are_404_and_other_methods_405) {
    for (std::string_view path :
         {"", "/", "/nope", "/channels/", "/channels/a/b", "/users//terminate_connections"}) {
        auto r = api::find_route(path);
        ASSERT_FALSE(r.ok()) << path;
        EXPECT_EQ(r.error().code(), 404);
        EXPECT_EQ(r.error().message(), "Not found: unknown API endpoint " + std::string(path));
    }
    auto events = api::find_route("/events");
    auto refused = api::check_method(*events, "GET");
    EXPECT_EQ(refused.code(), 405);
    EXPECT_EQ(refused.message(), "Method not allowed: use POST");
    EXPECT_TRUE(api::check_method(*events, "POST").ok());
}

TEST(handle, a_disabled_app_is_403) {
    fixture f;
    f.app.enabled = false;
    expect_failure(api::handle(f.make("GET", "/channels")), 403, "Application disabled");
}

TEST(handle, reads_over_the_rate_are_429_and_publishes_do_not_count) {
    fixture f;
    f.app.id = "1";
    f.app.max_read_requests_per_second = 1;
    EXPECT_TRUE(api::handle(f.make("POST", "/events", {}, R"({"name":"e","data":"x","channel":"c"})")).ok());
    EXPECT_TRUE(api::handle(f.make("GET", "/connections")).ok());
    expect_failure(api::handle(f.make("GET", "/channels")), 429,
                   "Too many requests: app 1 allows 1 read requests per second");
}

TEST(get_channels, asks_every_shard_for_its_channel_list) {
    fixture f;
    auto out = api::get_channels(
        f.make("GET", "/channels", {{"filter_by_prefix", "presence-"}, {"info", "user_count"}}));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 3u);
    for (unsigned s = 0; s < 3; ++s) {
        EXPECT_EQ(p.queries[s].first, s);
        EXPECT_EQ(p.queries[s].second->kind, pusher::query_kind::channel_list);
        EXPECT_EQ(p.queries[s].second->app, 7u);
        EXPECT_EQ(p.queries[s].second->prefix, "presence-");
    }
    EXPECT_TRUE(out->publish.empty());
    api::replies got;
    got.channels = {summary("presence-b", 2, 1), summary("presence-a", 3, 2)};
    EXPECT_EQ(p.finish(got), R"({"channels":{"presence-a":{"user_count":2},"presence-b":{"user_count":1}}})");
}

TEST(get_channels, refuses_info_it_cannot_answer) {
    fixture f;
    expect_failure(api::get_channels(f.make("GET", "/channels", {{"info", "nonsense"}})), 400,
                   "Unknown info attribute \"nonsense\": use user_count, subscription_count or cache");
    expect_failure(api::get_channels(f.make("GET", "/channels", {{"info", "user_count"}})), 400,
                   "info=user_count is only available with filter_by_prefix=presence-");
    expect_failure(api::get_channels(f.make("GET", "/channels", {{"info", "cache"}})), 400,
                   "info=cache is only available for a single channel");
}

TEST(get_channel, asks_the_channels_owner) {
    fixture f;
    auto out =
        api::get_channel(f.make("GET", "/channels/cache-news", {{"info", "subscription_count,cache"}}));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 1u);
    EXPECT_EQ(p.queries[0].first, fixture::owner("cache-news", 3));
    EXPECT_EQ(p.queries[0].second->kind, pusher::query_kind::channels);
    EXPECT_EQ(p.queries[0].second->names, std::vector<std::string>{"cache-news"});
    api::replies none;
    EXPECT_EQ(p.finish(none), R"({"occupied":false,"subscription_count":0})");
    api::replies got;
    got.channels = {summary("cache-news", 4)};
    got.channels[0].has_cache = true;
    got.channels[0].cache_data = "say \"hi\"";
    got.channels[0].cache_ttl_s = 60;
    EXPECT_EQ(p.finish(got),
              R"({"occupied":true,"subscription_count":4,"cache":{"data":"say \"hi\"","ttl":60}})");
}

TEST(get_channel, info_must_apply_to_the_channels_kind) {
    fixture f;
    expect_failure(api::get_channel(f.make("GET", "/channels/public", {{"info", "user_count"}})), 400,
                   "info=user_count applies to presence channels only");
    expect_failure(
        api::get_channel(f.make("GET", "/channels/presence-room", {{"info", "subscription_count"}})), 400,
        "info=subscription_count applies to non-presence channels; use user_count");
    expect_failure(api::get_channel(f.make("GET", "/channels/public", {{"info", "cache"}})), 400,
                   "info=cache applies to cache channels only");
    expect_failure(api::get_channel(f.make("GET", "/channels/bad%20name")), 400,
                   pusher::check_channel_name("bad name", 164).message());
    expect_failure(api::get_channel(f.make("GET", "/channels/public", {{"info", "user_count,bogus"}})), 400,
                   "Unknown info attribute \"bogus\": use user_count, subscription_count or cache");
}

TEST(get_users, lists_a_presence_channels_members_from_its_owner) {
    fixture f;
    auto out = api::get_users(f.make("GET", "/channels/presence-room/users"));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 1u);
    EXPECT_EQ(p.queries[0].first, fixture::owner("presence-room", 3));
    EXPECT_EQ(p.queries[0].second->kind, pusher::query_kind::members);
    EXPECT_EQ(p.queries[0].second->names, std::vector<std::string>{"presence-room"});
    api::replies got;
    got.users = {"1", "two"};
    EXPECT_EQ(p.finish(got), R"({"users":[{"id":"1"},{"id":"two"}]})");
}

TEST(get_users, a_channel_that_is_not_presence_is_400) {
    fixture f;
    expect_failure(api::get_users(f.make("GET", "/channels/private-room/users")), 400,
                   "Users can only be listed for presence channels; private-room is not one");
}

TEST(terminate_connections, asks_every_shard_to_close_the_users_connections) {
    fixture f;
    f.shards = 2;
    auto out = api::terminate_connections(f.make("POST", "/users/42/terminate_connections"));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 2u);
    for (unsigned s = 0; s < 2; ++s) {
        EXPECT_EQ(p.queries[s].first, s);
        EXPECT_EQ(p.queries[s].second->kind, pusher::query_kind::terminate_user);
        EXPECT_EQ(p.queries[s].second->names, std::vector<std::string>{"42"});
    }
    api::replies got;
    got.count = 3;
    EXPECT_EQ(p.finish(got), "{}");
}

TEST(get_connections, sums_every_shards_count) {
    fixture f;
    auto out = api::get_connections(f.make("GET", "/connections"));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 3u);
    EXPECT_EQ(p.queries[0].second->kind, pusher::query_kind::connections);
    api::replies got;
    for (std::uint64_t n : {2u, 0u, 5u}) {
        pusher::query_reply_mail r;
        r.count = n;
        got.add(r);
    }
    EXPECT_EQ(p.finish(got), R"({"connections":7})");
}

TEST(post_events, without_info_answers_at_once_and_publishes_after) {
    fixture f;
    auto out =
        api::post_events(f.make("POST", "/events", {}, R"({"name":"e","data":"x","channels":["a","b"]})"));
    ASSERT_TRUE(out.ok());
    auto* now = std::get_if<api::response>(&out->answer);
    ASSERT_NE(now, nullptr);
    EXPECT_EQ(now->status, 200);
    EXPECT_EQ(now->body, "{}");
    ASSERT_EQ(out->publish.size(), 1u);
    EXPECT_EQ(out->publish[0].channels, (std::vector<std::string>{"a", "b"}));
}

TEST(post_events, with_info_asks_each_channels_owner_once) {
    fixture f;
    f.shards = 2;
    // Owners by name length: "ab" and "abcd" on shard 0, "abc" on shard 1.
    auto out = api::post_events(f.make(
        "POST", "/events", {},
        R"({"name":"e","data":"x","channels":["abc","ab","abcd"],"info":"subscription_count,user_count"})"));
    api::plan& p = plan_of(out);
    ASSERT_EQ(p.queries.size(), 2u);
    EXPECT_EQ(p.queries[0].first, 0u);
    EXPECT_EQ(p.queries[0].second->names, (std::vector<std::string>{"ab", "abcd"}));
    EXPECT_EQ(p.queries[1].first, 1u);
    EXPECT_EQ(p.queries[1].second->names, (std::vector<std::string>{"abc"}));
    ASSERT_EQ(out->publish.size(), 1u);
    api::replies got;
    got.channels = {summary("ab", 2), summary("abc", 1)};
    EXPECT_EQ(p.finish(got), R"({"channels":{"abc":{"subscription_count":1},"ab":{"subscription_count":2},)"
                             R"("abcd":{"subscription_count":0}}})");
}

TEST(post_events, a_batch_with_info_answers_per_entry) {
    fixture f;
    auto out = api::post_events(
        f.make("POST", "/batch_events", {},
               R"({"batch":[{"name":"e","data":"x","channel":"presence-p","info":"user_count"},)"
               R"({"name":"e","data":"y","channel":"plain"}]})"));
    api::plan& p = plan_of(out);
    EXPECT_EQ(out->publish.size(), 2u);
    api::replies got;
    got.channels = {summary("presence-p", 3, 2)};
    EXPECT_EQ(p.finish(got), R"({"batch":[{"user_count":2},{}]})");
}

TEST(post_events, refusals_keep_their_status_and_message) {
    fixture f;
    f.app.id = "1";
    expect_failure(api::post_events(f.make("POST", "/events", {}, R"({"name":"e","data":"x"})")), 400,
                   R"("channels" (an array) or "channel" (a string) is required)");
    expect_failure(api::post_events(
                       f.make("POST", "/events", {}, R"({"name":"e","data":"x","channel":"c","info":"x"})")),
                   400, "Unknown info attribute \"x\": use user_count, subscription_count or cache");
    expect_failure(api::post_events(f.make("POST", "/batch_events", {},
                                           R"({"batch":[{"name":"e","data":"x","channel":"c"},1]})")),
                   400, "batch[1]: must be an event object");
    std::string big = R"({"batch":[{"name":"e","channel":"c","data":")" + std::string(10241, 'x') + "\"}]}";
    expect_failure(api::post_events(f.make("POST", "/batch_events", {}, big)), 413,
                   "batch[0]: Event data is 10241 bytes; the limit is 10240 bytes");
    f.app.max_backend_events_per_second = 1;
    expect_failure(api::post_events(f.make("POST", "/batch_events", {},
                                           R"({"batch":[{"name":"e","data":"x","channel":"c"},)"
                                           R"({"name":"e","data":"x","channel":"d"}]})")),
                   429, "Too many events: app 1 allows 1 published events per second");
}
