// Webhook configuration: soketi's per-app "webhooks" targets in the --config JSON file, the
// server-wide "server.webhooks" settings, the RINGCAST_WEBHOOK_* variables, and every refusal
// naming the app, target and field at fault.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

constexpr std::uint32_t bit(webhook_kind k) {
    return 1U << static_cast<unsigned>(k);
}

// Every kind but subscription_count, which is opt-in.
constexpr std::uint32_t default_events = bit(webhook_kind::channel_occupied) |
                                         bit(webhook_kind::channel_vacated) |
                                         bit(webhook_kind::member_added) | bit(webhook_kind::member_removed) |
                                         bit(webhook_kind::client_event) | bit(webhook_kind::cache_miss);

class webhooks : public config_files {
protected:
    // The JSON file of one app (id 1, key k, secret s) whose "webhooks" is `targets`.
    std::string one_app(const std::string& targets) {
        return write("config.json",
                     R"({"apps": [{"id": "1", "key": "k", "secret": "s", "webhooks": )" + targets + "}]}");
    }

    // The targets of a file that must load.
    std::vector<webhook_target> loaded(const std::string& targets) {
        server s = started({"start", "--config", one_app(targets)});
        EXPECT_EQ(s.apps.size(), 1u);
        return s.apps.empty() ? std::vector<webhook_target>{} : s.apps[0].webhooks;
    }

    // The single target of a one-target list that must load.
    webhook_target target(const std::string& fields) {
        std::vector<webhook_target> t = loaded("[{" + fields + "}]");
        EXPECT_EQ(t.size(), 1u);
        return t.empty() ? webhook_target{} : t[0];
    }

    // The message of a file that must fail, without the "FILE: " prefix.
    std::string without_file(const std::string& json) {
        std::string message = failure({"start", "--config", json});
        EXPECT_EQ(message.rfind(json + ": ", 0), 0u) << message;
        return message.substr(std::min(message.size(), json.size() + 2));
    }

    std::string refused(const std::string& fields) { return without_file(one_app("[{" + fields + "}]")); }

    // The message of a "server": {"webhooks": ...} that must fail.
    std::string refused_settings(const std::string& settings) {
        return without_file(write("config.json", R"({"server": {"webhooks": )" + settings + "}}"));
    }
};

} // namespace

TEST_F(webhooks, a_soketi_target_sets_every_field) {
    webhook_target t = target(R"("url": "https://example.com/pusher/webhook?x=1",
                                 "event_types": ["channel_occupied", "member_added", "subscription_count"],
                                 "headers": {"X-Custom": "v", "Authorization": "Bearer t"},
                                 "filter": {"channel_name_starts_with": "private-",
                                            "channel_name_ends_with": "-x"})");
    EXPECT_EQ(t.url, "https://example.com/pusher/webhook?x=1");
    EXPECT_TRUE(t.tls);
    EXPECT_EQ(t.host, "example.com");
    EXPECT_EQ(t.port, 443);
    EXPECT_EQ(t.request_target, "/pusher/webhook?x=1");
    EXPECT_EQ(t.event_types, bit(webhook_kind::channel_occupied) | bit(webhook_kind::member_added) |
                                 bit(webhook_kind::subscription_count));
    EXPECT_TRUE(t.wants(webhook_kind::subscription_count));
    EXPECT_FALSE(t.wants(webhook_kind::channel_vacated));
    std::vector<std::pair<std::string, std::string>> headers{{"X-Custom", "v"},
                                                             {"Authorization", "Bearer t"}};
    EXPECT_EQ(t.headers, headers);
    EXPECT_EQ(t.channel_prefix, "private-");
    EXPECT_EQ(t.channel_suffix, "-x");
    EXPECT_TRUE(t.accepts("private-a-x"));
    EXPECT_FALSE(t.accepts("presence-a-x"));
}

TEST_F(webhooks, camel_case_keys_set_the_same_fields) {
    webhook_target t = target(R"("url": "http://hooks.internal:8000/in", "eventTypes": ["client_event"],
                                 "filter": {"channelNameStartsWith": "a", "channelNameEndsWith": "z"})");
    EXPECT_FALSE(t.tls);
    EXPECT_EQ(t.host, "hooks.internal");
    EXPECT_EQ(t.port, 8000);
    EXPECT_EQ(t.event_types, bit(webhook_kind::client_event));
    EXPECT_EQ(t.channel_prefix, "a");
    EXPECT_EQ(t.channel_suffix, "z");
}

TEST_F(webhooks, defaults_are_every_event_but_subscription_count_and_no_filter) {
    webhook_target t = target(R"("url": "http://example.com")");
    EXPECT_EQ(t.event_types, default_events);
    EXPECT_EQ(t.port, 80);
    EXPECT_EQ(t.request_target, "/");
    EXPECT_TRUE(t.headers.empty());
    EXPECT_TRUE(t.accepts("anything"));
}

TEST_F(webhooks, several_targets_keep_their_order_and_an_empty_list_is_none) {
    std::vector<webhook_target> t = loaded(R"([{"url": "http://a.example"}, {"url": "http://b.example"}])");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].host, "a.example");
    EXPECT_EQ(t[1].host, "b.example");
    EXPECT_TRUE(loaded("[]").empty());
}

TEST_F(webhooks, urls_are_split_into_host_port_and_request_target) {
    struct expected {
        const char* url;
        bool tls;
        const char* host;
        std::uint16_t port;
        const char* target;
    };
    const expected cases[] = {
        {"HTTPS://Example.COM", true, "Example.COM", 443, "/"},
        {"Http://10.0.0.5:9000/hook", false, "10.0.0.5", 9000, "/hook"},
        {"http://[::1]:8080/a?b=c", false, "::1", 8080, "/a?b=c"},
        {"https://[2001:db8::1]/", true, "2001:db8::1", 443, "/"},
        {"http://localhost?x=1", false, "localhost", 80, "/?x=1"},
        {"http://my_service.local:65535", false, "my_service.local", 65535, "/"},
    };
    for (const expected& e : cases) {
        webhook_target t = target(std::string(R"("url": ")") + e.url + "\"");
        EXPECT_EQ(t.tls, e.tls) << e.url;
        EXPECT_EQ(t.host, e.host) << e.url;
        EXPECT_EQ(t.port, e.port) << e.url;
        EXPECT_EQ(t.request_target, e.target) << e.url;
    }
}

TEST_F(webhooks, bad_urls_name_the_app_target_and_field) {
    const std::pair<const char*, const char*> cases[] = {
        {"ftp://example.com", "expected an http:// or https:// URL"},
        {"example.com/hook", "expected an http:// or https:// URL"},
        {"http:///hook", "missing host"},
        {"http://:80/", "missing host"},
        {"http://user:pw@example.com/",
         "credentials in the URL (user@host) are not supported; send them in \"headers\""},
        {"http://example.com/#top", "a fragment (#...) is never sent to the server; remove it"},
        {"http://example.com/a b", "spaces and control characters are not allowed in a URL"},
        {"http://example.com:0/", "port \"0\": expected a number from 1 to 65535"},
        {"http://example.com:65536/", "port \"65536\": expected a number from 1 to 65535"},
        {"http://example.com:/", "port \"\": expected a number from 1 to 65535"},
        {"http://[::1/", "missing \"]\" after the IPv6 address"},
        {"http://[nope]/", "invalid IPv6 address \"nope\""},
        {"http://300.1.1.1/", "invalid IPv4 address \"300.1.1.1\""},
        {"http://-bad-.example/", "invalid host name \"-bad-.example\""},
        {"http://a..b/", "invalid host name \"a..b\""},
    };
    for (const auto& [url, message] : cases) {
        EXPECT_EQ(refused(std::string(R"("url": ")") + url + "\""),
                  std::string("apps[0].webhooks[0].url: ") + message)
            << url;
    }
    EXPECT_EQ(refused(R"("url": "http://a\u0001b/")"),
              "apps[0].webhooks[0].url: spaces and control characters are not allowed in a URL");
    EXPECT_EQ(refused(R"("url": "")"), "apps[0].webhooks[0].url: expected a non-empty string");
    EXPECT_EQ(refused(R"("url": 5)"), "apps[0].webhooks[0].url: expected a non-empty string");
}

TEST_F(webhooks, the_message_names_the_failing_target_by_index) {
    EXPECT_EQ(without_file(one_app(R"([{"url": "http://ok.example"}, {"url": "gopher://x"}])")),
              "apps[0].webhooks[1].url: expected an http:// or https:// URL");
    std::string two_apps = write("config.json", R"({"apps": [{"id": "1", "key": "k1", "secret": "s"},
        {"id": "2", "key": "k2", "secret": "s", "webhooks": [{"url": "http://x", "eventTypes": ["nope"]}]}]})");
    EXPECT_TRUE(
        without_file(two_apps).starts_with("apps[1].webhooks[0].eventTypes[0]: unknown event type \"nope\""));
}

TEST_F(webhooks, a_missing_url_or_a_lambda_target_is_refused) {
    EXPECT_EQ(refused(R"("event_types": ["channel_occupied"])"), "apps[0].webhooks[0]: missing \"url\"");
    EXPECT_EQ(
        refused(R"("lambda_function": "my-fn")"),
        "apps[0].webhooks[0].lambda_function: AWS Lambda webhook targets are not supported; give a url");
    EXPECT_EQ(refused(R"("lambda": {"async": true})"),
              "apps[0].webhooks[0].lambda: AWS Lambda webhook targets are not supported; give a url");
    EXPECT_EQ(refused(R"("lambdaFunction": "my-fn")"),
              "apps[0].webhooks[0].lambdaFunction: AWS Lambda webhook targets are not supported; give a url");
}

TEST_F(webhooks, unknown_keys_and_wrong_shapes_are_refused) {
    EXPECT_EQ(refused(R"("url": "http://x", "batch": true)"), "unknown key \"apps[0].webhooks[0].batch\"");
    EXPECT_EQ(refused(R"("url": "http://x", "filter": {"channel_name": "a"})"),
              "unknown key \"apps[0].webhooks[0].filter.channel_name\"");
    EXPECT_EQ(refused(R"("url": "http://x", "filter": {"channel_name_starts_with": 1})"),
              "apps[0].webhooks[0].filter.channel_name_starts_with: expected a string");
    EXPECT_EQ(refused(R"("url": "http://x", "filter": [])"),
              "apps[0].webhooks[0].filter: expected an object");
    EXPECT_EQ(refused(R"("url": "http://x", "headers": {"X-A": 1})"),
              "apps[0].webhooks[0].headers.X-A: expected a string");
    EXPECT_EQ(without_file(one_app(R"({"url": "http://x"})")),
              "apps[0].webhooks: expected an array of webhook targets");
    EXPECT_EQ(without_file(one_app(R"(["http://x"])")), "apps[0].webhooks[0]: expected an object");
}

TEST_F(webhooks, a_key_under_both_spellings_is_refused) {
    EXPECT_EQ(refused(R"("url": "http://x", "event_types": ["cache_miss"], "eventTypes": ["cache_miss"])"),
              "apps[0].webhooks[0]: both \"event_types\" and \"eventTypes\" given");
    EXPECT_EQ(
        refused(
            R"("url": "http://x", "filter": {"channelNameEndsWith": "a", "channel_name_ends_with": "a"})"),
        "apps[0].webhooks[0].filter: both \"channelNameEndsWith\" and \"channel_name_ends_with\" given");
}

TEST_F(webhooks, event_types_must_be_known_and_not_empty) {
    EXPECT_EQ(refused(R"("url": "http://x", "event_types": ["channel_occupied", "channel_opened"])"),
              "apps[0].webhooks[0].event_types[1]: unknown event type \"channel_opened\"; expected one of "
              "channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss, "
              "subscription_count");
    EXPECT_EQ(refused(R"("url": "http://x", "event_types": [])"),
              "apps[0].webhooks[0].event_types: expected at least one event type (omit the key for all but "
              "subscription_count)");
    EXPECT_EQ(refused(R"("url": "http://x", "event_types": [1])"),
              "apps[0].webhooks[0].event_types[0]: expected an event type name (a string)");
    EXPECT_EQ(refused(R"("url": "http://x", "event_types": "channel_occupied")"),
              "apps[0].webhooks[0].event_types: expected an array of event type names");
}

TEST_F(webhooks, headers_must_be_tokens_with_clean_values) {
    EXPECT_EQ(refused(R"("url": "http://x", "headers": {"X Bad": "v"})"),
              "apps[0].webhooks[0].headers.X Bad: header name \"X Bad\" is not an HTTP token (letters, "
              "digits and !#$%&'*+-.^_`|~)");
    EXPECT_EQ(refused(R"("url": "http://x", "headers": {"": "v"})"),
              "apps[0].webhooks[0].headers.: empty header name");
    for (const char* value : {R"(a\r\nX-Evil: 1)", R"(a\nb)", R"(a\u0000b)"}) {
        EXPECT_EQ(refused(std::string(R"("url": "http://x", "headers": {"X-A": ")") + value + "\"}"),
                  "apps[0].webhooks[0].headers.X-A: header value must not contain CR, LF or NUL")
            << value;
    }
}

TEST_F(webhooks, headers_ringcast_sets_cannot_be_overridden) {
    const std::pair<const char*, const char*> cases[] = {
        {"x-pusher-key", "X-Pusher-Key"},
        {"X-PUSHER-SIGNATURE", "X-Pusher-Signature"},
        {"content-type", "Content-Type"},
        {"Content-Length", "Content-Length"},
        {"host", "Host"},
        {"CONNECTION", "Connection"},
        {"transfer-encoding", "Transfer-Encoding"},
    };
    for (const auto& [written, ours] : cases) {
        EXPECT_EQ(refused(std::string(R"("url": "http://x", "headers": {")") + written + R"(": "v"})"),
                  std::string("apps[0].webhooks[0].headers.") + written + ": \"" + ours +
                      "\" is set by ringcast and cannot be overridden")
            << written;
    }
}

TEST_F(webhooks, server_settings_default_to_the_contract) {
    server s = started({"start"});
    webhook_settings d;
    EXPECT_EQ(s.webhooks.batch_window_ms, d.batch_window_ms);
    EXPECT_EQ(s.webhooks.retry_for_ms, 300'000u);
    EXPECT_TRUE(s.webhooks.ca_file.empty());
}

TEST_F(webhooks, server_settings_are_read_from_the_json_file) {
    std::string ca = write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    server s = started({"start", "--config",
                        write("config.json", R"({"server": {"webhooks": {
        "batch_window_ms": 0, "batch_max_events": 7, "debounce_ms": 0, "retry_for_ms": 0,
        "retry_initial_ms": 200, "retry_max_ms": 200, "connect_timeout_ms": 1, "request_timeout_ms": 2,
        "max_pending_events": 3, "shutdown_grace_ms": 0, "ca_file": ")" +
                                                 ca + R"("}}})")});
    EXPECT_EQ(s.webhooks.batch_window_ms, 0u);
    EXPECT_EQ(s.webhooks.batch_max_events, 7u);
    EXPECT_EQ(s.webhooks.debounce_ms, 0u);
    EXPECT_EQ(s.webhooks.retry_for_ms, 0u);
    EXPECT_EQ(s.webhooks.retry_initial_ms, 200u);
    EXPECT_EQ(s.webhooks.retry_max_ms, 200u);
    EXPECT_EQ(s.webhooks.connect_timeout_ms, 1u);
    EXPECT_EQ(s.webhooks.request_timeout_ms, 2u);
    EXPECT_EQ(s.webhooks.max_pending_events, 3u);
    EXPECT_EQ(s.webhooks.shutdown_grace_ms, 0u);
    EXPECT_EQ(s.webhooks.ca_file, ca);
}

TEST_F(webhooks, server_settings_out_of_range_name_the_key) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"batch_max_events": 0})",
         "server.webhooks.batch_max_events: expected a number from 1 to 4294967295"},
        {R"({"retry_initial_ms": 0})",
         "server.webhooks.retry_initial_ms: expected a number from 1 to 86400000"},
        {R"({"connect_timeout_ms": 0})",
         "server.webhooks.connect_timeout_ms: expected a number from 1 to 86400000"},
        {R"({"request_timeout_ms": 0})",
         "server.webhooks.request_timeout_ms: expected a number from 1 to 86400000"},
        {R"({"max_pending_events": 0})",
         "server.webhooks.max_pending_events: expected a number from 1 to 4294967295"},
        {R"({"debounce_ms": 86400001})", "server.webhooks.debounce_ms: expected a number from 0 to 86400000"},
        {R"({"batch_window_ms": -1})",
         "server.webhooks.batch_window_ms: expected a number from 0 to 86400000"},
        {R"({"retry_for_ms": "5"})", "server.webhooks.retry_for_ms: expected a number from 0 to 86400000"},
        {R"({"batch_ms": 5})", "unknown key \"server.webhooks.batch_ms\""},
        {R"({"ca_file": 1})", "server.webhooks.ca_file: expected a string"},
        {R"([])", "server.webhooks: expected an object"},
    };
    for (const auto& [settings, message] : cases) {
        EXPECT_EQ(refused_settings(settings), message) << settings;
    }
}

TEST_F(webhooks, retry_max_below_retry_initial_is_refused_in_any_order) {
    EXPECT_EQ(refused_settings(R"({"retry_max_ms": 100, "retry_initial_ms": 500})"),
              "server.webhooks.retry_max_ms: 100 is less than retry_initial_ms (500)");
    EXPECT_EQ(refused_settings(R"({"retry_initial_ms": 120000})"),
              "server.webhooks.retry_max_ms: 60000 is less than retry_initial_ms (120000)");
}

TEST_F(webhooks, an_empty_ca_file_means_the_system_roots) {
    server s =
        started({"start", "--config", write("config.json", R"({"server": {"webhooks": {"ca_file": ""}}})")});
    EXPECT_TRUE(s.webhooks.ca_file.empty());
}

TEST_F(webhooks, a_missing_ca_file_is_refused_at_load) {
    std::string missing = (dir_ / "nope.pem").string();
    EXPECT_EQ(refused_settings(R"({"ca_file": ")" + missing + "\"}"),
              "server.webhooks.ca_file: cannot read " + missing + ": No such file or directory");
    EXPECT_EQ(refused_settings(R"({"ca_file": ")" + dir_.string() + "\"}"),
              "server.webhooks.ca_file: cannot read " + dir_.string() + ": Is a directory");
}

TEST(webhooks_env, the_url_adds_a_target_to_the_environment_app) {
    server s = started({"start"}, {"REVERB_APP_ID=1", "REVERB_APP_KEY=k", "REVERB_APP_SECRET=s",
                                   "RINGCAST_WEBHOOK_URL=https://hooks.example:8443/in?a=b"});
    ASSERT_EQ(s.apps.size(), 1u);
    ASSERT_EQ(s.apps[0].webhooks.size(), 1u);
    const webhook_target& t = s.apps[0].webhooks[0];
    EXPECT_TRUE(t.tls);
    EXPECT_EQ(t.host, "hooks.example");
    EXPECT_EQ(t.port, 8443);
    EXPECT_EQ(t.request_target, "/in?a=b");
    EXPECT_EQ(t.event_types, default_events);
}

TEST(webhooks_env, the_url_adds_a_target_to_the_development_default_app) {
    server s = started({"start"}, {"RINGCAST_WEBHOOK_URL=http://127.0.0.1:9000/",
                                   "RINGCAST_WEBHOOK_EVENTS=channel_occupied, subscription_count"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps_source, "built-in development default");
    ASSERT_EQ(s.apps[0].webhooks.size(), 1u);
    EXPECT_EQ(s.apps[0].webhooks[0].event_types,
              bit(webhook_kind::channel_occupied) | bit(webhook_kind::subscription_count));
}

TEST(webhooks_env, without_a_url_there_is_no_target) {
    server s = started({"start"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_TRUE(s.apps[0].webhooks.empty());
}

TEST(webhooks_env, bad_values_name_the_variable) {
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_URL=ftp://x"}),
              "RINGCAST_WEBHOOK_URL: expected an http:// or https:// URL, got \"ftp://x\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_URL=http://u@x/"}),
              "RINGCAST_WEBHOOK_URL: credentials in the URL (user@host) are not supported; send them in "
              "\"headers\", got \"http://u@x/\"");
    EXPECT_EQ(
        failure({"start"}, {"RINGCAST_WEBHOOK_URL=http://x", "RINGCAST_WEBHOOK_EVENTS=member_added,nope"}),
        "RINGCAST_WEBHOOK_EVENTS: unknown event type \"nope\"; expected one of channel_occupied, "
        "channel_vacated, member_added, member_removed, client_event, cache_miss, subscription_count, "
        "got \"member_added,nope\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_URL=http://x", "RINGCAST_WEBHOOK_EVENTS=member_added,,"}),
              "RINGCAST_WEBHOOK_EVENTS: empty event type in the list, got \"member_added,,\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_EVENTS=member_added"}),
              "RINGCAST_WEBHOOK_EVENTS: needs RINGCAST_WEBHOOK_URL too, got \"member_added\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_BATCH_MS=-1"}),
              "RINGCAST_WEBHOOK_BATCH_MS: expected a number from 0 to 86400000, got \"-1\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_WEBHOOK_CA_FILE=/nonexistent/ca.pem"}),
              "RINGCAST_WEBHOOK_CA_FILE: cannot read /nonexistent/ca.pem: No such file or directory");
}

TEST_F(webhooks, server_variables_win_over_the_json_file) {
    std::string ca = write("ca.pem", "pem");
    std::string json = write("config.json", R"({"server": {"webhooks": {"batch_window_ms": 10,
        "debounce_ms": 20, "retry_for_ms": 30, "batch_max_events": 9}}})");
    server s = started({"start", "--config", json},
                       {"RINGCAST_WEBHOOK_BATCH_MS=1", "RINGCAST_WEBHOOK_DEBOUNCE_MS=2",
                        "RINGCAST_WEBHOOK_RETRY_FOR_MS=3", "RINGCAST_WEBHOOK_CA_FILE=" + ca});
    EXPECT_EQ(s.webhooks.batch_window_ms, 1u);
    EXPECT_EQ(s.webhooks.debounce_ms, 2u);
    EXPECT_EQ(s.webhooks.retry_for_ms, 3u);
    EXPECT_EQ(s.webhooks.batch_max_events, 9u);
    EXPECT_EQ(s.webhooks.ca_file, ca);
}

TEST_F(webhooks, dotenv_values_name_the_file) {
    std::string env = write("app.env", "RINGCAST_WEBHOOK_URL=mailto:x\n");
    EXPECT_EQ(failure({"start", "--env", env}),
              env + ": RINGCAST_WEBHOOK_URL: expected an http:// or https:// URL, got \"mailto:x\"");
    std::string good = write("good.env", "RINGCAST_WEBHOOK_URL=http://x/y\nRINGCAST_WEBHOOK_DEBOUNCE_MS=0\n");
    server s = started({"start", "--env", good});
    ASSERT_EQ(s.apps.size(), 1u);
    ASSERT_EQ(s.apps[0].webhooks.size(), 1u);
    EXPECT_EQ(s.apps[0].webhooks[0].request_target, "/y");
    EXPECT_EQ(s.webhooks.debounce_ms, 0u);
}

TEST_F(webhooks, json_apps_keep_their_own_webhooks_over_the_url_variable) {
    server s = started({"start", "--config", one_app(R"([{"url": "http://json.example"}])")},
                       {"RINGCAST_WEBHOOK_URL=http://env.example"});
    ASSERT_EQ(s.apps.size(), 1u);
    ASSERT_EQ(s.apps[0].webhooks.size(), 1u);
    EXPECT_EQ(s.apps[0].webhooks[0].host, "json.example");
}
