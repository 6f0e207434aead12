// The --config JSON file: every key read, and errors that name the file and key path.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

class json_file : public config_files {};

constexpr std::string_view full_example = R"({
  "server": {"host": "127.0.0.1", "port": 6001, "path": "ws/", "hostname": "ws.example.com",
             "debug": true, "threads": 2, "max_header_bytes": 8192, "max_body_bytes": 100000,
             "handshake_timeout": 5, "http_idle_timeout": 30, "max_pending_write_bytes": 1048576},
  "apps": [
    {"id": "1", "key": "k", "secret": "s", "enabled": false, "activity_timeout": 20, "ping_interval": 40,
     "pong_timeout": 15, "max_message_size": 2000, "max_event_payload_bytes": 4096,
     "max_event_channels": 50, "max_event_name_length": 100, "max_channel_name_length": 120,
     "max_batch_size": 5, "max_connections": 1000, "allowed_origins": ["example.com", "*.test"],
     "accept_client_events_from": "all"},
    {"id": "2", "key": "k2", "secret": "s2", "max_connections": null}
  ]
})";

} // namespace

TEST_F(json_file, full_example_sets_every_field) {
    std::string json = write("config.json", full_example);
    server s = started({"start", "--config", json});
    EXPECT_EQ(s.host, "127.0.0.1");
    EXPECT_EQ(s.port, 6001);
    EXPECT_EQ(s.path, "/ws");
    EXPECT_EQ(s.hostname, "ws.example.com");
    EXPECT_TRUE(s.debug);
    EXPECT_EQ(s.threads, 2u);
    EXPECT_EQ(s.max_header_bytes, 8192u);
    EXPECT_EQ(s.max_body_bytes, 100000u);
    EXPECT_EQ(s.handshake_timeout_s, 5u);
    EXPECT_EQ(s.http_idle_timeout_s, 30u);
    EXPECT_EQ(s.max_pending_write_bytes, 1048576u);
    EXPECT_EQ(s.apps_source, "config file");
    ASSERT_EQ(s.apps.size(), 2u);

    const app& a = s.apps[0];
    EXPECT_EQ(a.id, "1");
    EXPECT_EQ(a.key, "k");
    EXPECT_EQ(a.secret, "s");
    EXPECT_FALSE(a.enabled);
    EXPECT_EQ(a.activity_timeout_s, 20u);
    EXPECT_EQ(a.ping_interval_s, 40u);
    EXPECT_EQ(a.pong_timeout_s, 15u);
    EXPECT_EQ(a.max_message_size, 2000u);
    EXPECT_EQ(a.max_event_payload_bytes, 4096u);
    EXPECT_EQ(a.max_event_channels, 50u);
    EXPECT_EQ(a.max_event_name_length, 100u);
    EXPECT_EQ(a.max_channel_name_length, 120u);
    EXPECT_EQ(a.max_batch_size, 5u);
    EXPECT_EQ(a.max_connections, 1000u);
    EXPECT_EQ(a.allowed_origins, (std::vector<std::string>{"example.com", "*.test"}));
    EXPECT_EQ(a.accept_client_events_from, client_events_from::all);

    // Keys left out keep the defaults.
    const app& b = s.apps[1];
    const app defaults;
    EXPECT_EQ(b.id, "2");
    EXPECT_TRUE(b.enabled);
    EXPECT_FALSE(b.max_connections.has_value());
    EXPECT_EQ(b.ping_interval_s, defaults.ping_interval_s);
    EXPECT_EQ(b.allowed_origins, defaults.allowed_origins);
    EXPECT_EQ(b.accept_client_events_from, client_events_from::members);
}

TEST_F(json_file, apps_win_over_environment_app) {
    std::string json = write("config.json", full_example);
    server s =
        started({"start", "--config", json}, {"REVERB_APP_ID=9", "REVERB_APP_KEY=x", "REVERB_APP_SECRET=y"});
    ASSERT_EQ(s.apps.size(), 2u);
    EXPECT_EQ(s.apps[0].id, "1");
    EXPECT_EQ(s.apps_source, "config file");
}

TEST_F(json_file, without_apps_leaves_apps_to_the_environment) {
    std::string json = write("config.json", R"({"server": {"port": 6001}})");
    server s =
        started({"start", "--config", json}, {"REVERB_APP_ID=9", "REVERB_APP_KEY=x", "REVERB_APP_SECRET=y"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps[0].id, "9");
    EXPECT_EQ(s.apps_source, "environment");
    EXPECT_EQ(started({"start", "--config", json}).apps_source, "built-in development default");
}

TEST_F(json_file, accepts_app_id_alias_and_numeric_ids) {
    std::string json = write("config.json", R"({"apps": [{"app_id": "a", "key": "k1", "secret": "s"},
                                           {"id": 284913, "key": "k2", "secret": "s"},
                                           {"app_id": 0, "key": "k3", "secret": "s"}]})");
    server s = started({"start", "--config", json});
    ASSERT_EQ(s.apps.size(), 3u);
    EXPECT_EQ(s.apps[0].id, "a");
    EXPECT_EQ(s.apps[1].id, "284913");
    EXPECT_EQ(s.apps[2].id, "0");
}

TEST_F(json_file, unknown_key_is_an_error) {
    std::string json =
        write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s", "ping_intervall": 5}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": unknown key \"apps[0].ping_intervall\"");
    json = write("top.json", R"({"server": {}, "app": []})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": unknown key \"app\"");
    json = write("server.json", R"({"server": {"prot": 1}})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": unknown key \"server.prot\"");
}

TEST_F(json_file, type_error_names_the_key_path) {
    std::string json = write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s"},
                                                         {"id": "2", "key": 5, "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps[1].key: expected a non-empty string");
    json = write("port.json", R"({"server": {"port": "6001"}})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": server.port: expected a number from 1 to 65535");
    json = write("debug.json", R"({"server": {"debug": 1}})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": server.debug: expected true or false");
    json = write("origin.json",
                 R"({"apps": [{"id": "1", "key": "k", "secret": "s", "allowed_origins": ["a", 2]}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[0].allowed_origins[1]: expected a non-empty string");
    json = write("from.json",
                 R"({"apps": [{"id": "1", "key": "k", "secret": "s", "accept_client_events_from": "x"}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[0].accept_client_events_from: expected \"all\", \"members\" or \"none\"");
    json = write("id.json", R"({"apps": [{"id": -1, "key": "k", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[0].id: expected a non-empty string or a non-negative integer");
    json = write("apps.json", R"({"apps": {}})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps: expected an array of apps");
    json = write("root.json", R"([1])");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": expected a JSON object at the top level");
}

TEST_F(json_file, nonsensical_values_are_errors) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"server": {"port": 0}})", "server.port: expected a number from 1 to 65535"},
        {R"({"server": {"threads": 1025}})", "server.threads: expected a number from 0 to 1024"},
        {R"({"server": {"handshake_timeout": 0}})",
         "server.handshake_timeout: expected a number from 1 to 86400"},
        {R"({"server": {"max_body_bytes": 1.5}})",
         "server.max_body_bytes: expected a number from 1 to 4294967295"},
        {R"({"server": {"max_header_bytes": 100}})",
         "server.max_header_bytes: expected a number from 1024 to 4294967295"},
        {R"({"apps": [{"id": "1", "key": "k", "secret": "s", "ping_interval": 0}]})",
         "apps[0].ping_interval: expected a number from 1 to 86400"},
        {R"({"apps": [{"id": "1", "key": "k", "secret": "s", "max_connections": 0}]})",
         "apps[0].max_connections: expected null or -1 (unlimited) or a number from 1 to 4294967295"},
    };
    for (const auto& [text, message] : cases) {
        std::string json = write("config.json", text);
        EXPECT_EQ(failure({"start", "--config", json}), json + ": " + message);
    }
    std::string auto_threads = write("auto.json", R"({"server": {"threads": 0}})");
    EXPECT_EQ(started({"start", "--config", auto_threads}).threads, 0u);
}

TEST_F(json_file, app_must_have_id_key_and_secret) {
    std::string json = write("config.json", R"({"apps": [{"key": "k", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps[0]: missing \"id\"");
    json = write("key.json", R"({"apps": [{"id": "1", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps[0]: missing \"key\"");
    json = write("secret.json", R"({"apps": [{"id": "1", "key": "k"}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps[0]: missing \"secret\"");
    json = write("both.json", R"({"apps": [{"id": "1", "app_id": "1", "key": "k", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps[0]: both \"id\" and \"app_id\" given");
}

TEST_F(json_file, zero_apps_is_an_error) {
    std::string json = write("config.json", R"({"apps": []})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": apps: expected at least one app");
}

TEST_F(json_file, duplicate_app_ids_or_keys_are_errors) {
    std::string json = write("ids.json", R"({"apps": [{"id": "1", "key": "a", "secret": "s"},
                                                      {"app_id": 1, "key": "b", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[1].app_id: app id \"1\" is also used by apps[0]");
    json = write("keys.json", R"({"apps": [{"id": "1", "key": "a", "secret": "s"},
                                           {"id": "2", "key": "b", "secret": "s"},
                                           {"id": "3", "key": "a", "secret": "s"}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[2].key: app key \"a\" is also used by apps[0]");
}

TEST_F(json_file, duplicate_key_in_an_object_is_an_error) {
    std::string json = write("config.json", R"({"server": {"port": 1, "port": 2}})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": duplicate key \"server.port\"");
}

TEST_F(json_file, syntax_error_names_the_file) {
    std::string json = write("config.json", R"({"server": {"port": 6001,}})");
    std::string message = failure({"start", "--config", json});
    EXPECT_EQ(message.rfind(json + ": invalid JSON: ", 0), 0u) << message;
    EXPECT_GT(message.size(), json.size() + 16) << "simdjson's reason is included";
}

TEST_F(json_file, missing_json_file_is_an_error) {
    std::string missing = (dir_ / "nope.json").string();
    EXPECT_EQ(failure({"start", "--config", missing}),
              "--config: cannot read " + missing + ": No such file or directory");
}

TEST_F(json_file, rate_limiting_block_sets_reverbs_knobs) {
    std::string json = write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s",
        "rate_limiting": {"enabled": true, "max_attempts": 5, "decay_seconds": 10,
                          "terminate_on_limit": true}}]})");
    server s = started({"start", "--config", json});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_TRUE(s.apps[0].rate_limiting_enabled);
    EXPECT_EQ(s.apps[0].rate_limit_max_attempts, 5u);
    EXPECT_EQ(s.apps[0].rate_limit_decay_s, 10u);
    EXPECT_TRUE(s.apps[0].rate_limit_terminate);
}

TEST_F(json_file, rate_limiting_keys_left_out_keep_the_defaults) {
    std::string json = write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s",
        "rate_limiting": {"enabled": true}}, {"id": "2", "key": "k2", "secret": "s", "rate_limiting": {}}]})");
    server s = started({"start", "--config", json});
    ASSERT_EQ(s.apps.size(), 2u);
    const app defaults;
    EXPECT_TRUE(s.apps[0].rate_limiting_enabled);
    EXPECT_EQ(s.apps[0].rate_limit_max_attempts, defaults.rate_limit_max_attempts);
    EXPECT_EQ(s.apps[0].rate_limit_decay_s, defaults.rate_limit_decay_s);
    EXPECT_FALSE(s.apps[0].rate_limit_terminate);
    EXPECT_FALSE(s.apps[1].rate_limiting_enabled);
}

TEST_F(json_file, rate_limiting_unknown_key_is_an_error) {
    std::string json = write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s",
        "rate_limiting": {"enabled": true, "max_attempt": 5}}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": unknown key \"apps[0].rate_limiting.max_attempt\"");
}

TEST_F(json_file, rate_limiting_bad_values_name_the_key_path) {
    const std::pair<const char*, const char*> cases[] = {
        {R"("rate_limiting": true)", "apps[0].rate_limiting: expected an object"},
        {R"("rate_limiting": {"enabled": "yes"})", "apps[0].rate_limiting.enabled: expected true or false"},
        {R"("rate_limiting": {"max_attempts": 0})",
         "apps[0].rate_limiting.max_attempts: expected a number from 1 to 4294967295"},
        {R"("rate_limiting": {"decay_seconds": 0})",
         "apps[0].rate_limiting.decay_seconds: expected a number from 1 to 86400"},
        {R"("rate_limiting": {"decay_seconds": 86401})",
         "apps[0].rate_limiting.decay_seconds: expected a number from 1 to 86400"},
        {R"("rate_limiting": {"terminate_on_limit": 1})",
         "apps[0].rate_limiting.terminate_on_limit: expected true or false"},
    };
    for (const auto& [field, message] : cases) {
        std::string json =
            write("config.json",
                  std::string(R"({"apps": [{"id": "1", "key": "k", "secret": "s", )") + field + "}]}");
        EXPECT_EQ(failure({"start", "--config", json}), json + ": " + message);
    }
}

TEST_F(json_file, api_rate_limits_are_read_and_zero_means_unlimited) {
    std::string json = write("config.json", R"({"apps": [
        {"id": "1", "key": "k", "secret": "s", "max_backend_events_per_second": 500,
         "max_read_requests_per_second": 20},
        {"id": "2", "key": "k2", "secret": "s", "max_backend_events_per_second": 0,
         "max_read_requests_per_second": 0}]})");
    server s = started({"start", "--config", json});
    ASSERT_EQ(s.apps.size(), 2u);
    EXPECT_EQ(s.apps[0].max_backend_events_per_second, 500u);
    EXPECT_EQ(s.apps[0].max_read_requests_per_second, 20u);
    EXPECT_EQ(s.apps[1].max_backend_events_per_second, 0u);
    EXPECT_EQ(s.apps[1].max_read_requests_per_second, 0u);
}

TEST_F(json_file, api_rate_limits_out_of_range_are_errors) {
    std::string json = write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s",
        "max_read_requests_per_second": 4294967296}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[0].max_read_requests_per_second: expected a number from 0 to 4294967295, or -1 "
                     "(unlimited)");
    json = write("frac.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s",
        "max_backend_events_per_second": 1.5}]})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": apps[0].max_backend_events_per_second: expected a number from 0 to 4294967295, or -1 "
                     "(unlimited)");
}
