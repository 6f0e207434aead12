// config::load: the command line, the environment and which source wins.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

class precedence : public config_files {};

} // namespace

TEST(config_cli, no_arguments_shows_help) {
    ringcast::core::result<command_line> r = run({});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->what, command_line::action::help);
    EXPECT_EQ(r->help_text, usage());
}

TEST(config_cli, every_help_form_shows_the_usage) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--help"}, {"-h"}, {"help"}, {"start", "--help"}, {"start", "--port", "1", "--help"}}) {
        ringcast::core::result<command_line> r = run(args);
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_EQ(r->what, command_line::action::help) << args.back();
        EXPECT_EQ(r->help_text, usage());
    }
}

TEST(config_cli, version_forms_ask_for_the_version) {
    for (const char* arg : {"--version", "version"}) {
        ringcast::core::result<command_line> r = run({arg});
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_EQ(r->what, command_line::action::version);
    }
}

TEST(config_cli, unknown_command_is_an_error) {
    EXPECT_EQ(failure({"serve"}), "unknown command \"serve\" (see ringcast --help)");
}

TEST(config_cli, start_without_flags_uses_the_defaults) {
    server s = started({"start"});
    EXPECT_EQ(s.host, "0.0.0.0");
    EXPECT_EQ(s.port, 8080);
    EXPECT_EQ(s.path, "");
    EXPECT_EQ(s.hostname, "");
    EXPECT_FALSE(s.debug);
    EXPECT_EQ(s.threads, 0u);
    EXPECT_EQ(s.max_body_bytes, 256u * 1024);
}

TEST(config_cli, flags_take_their_value_from_the_next_argument) {
    server s = started({"start", "--host", "127.0.0.1", "--port", "6001", "--path", "ws", "--hostname",
                        "ws.example.com", "--debug", "--threads", "4"});
    EXPECT_EQ(s.host, "127.0.0.1");
    EXPECT_EQ(s.port, 6001);
    EXPECT_EQ(s.path, "/ws");
    EXPECT_EQ(s.hostname, "ws.example.com");
    EXPECT_TRUE(s.debug);
    EXPECT_EQ(s.threads, 4u);
}

TEST(config_cli, flags_take_their_value_after_an_equals_sign) {
    server s =
        started({"start", "--host=::1", "--port=443", "--path=/a/b/", "--hostname=h", "--threads=1024"});
    EXPECT_EQ(s.host, "::1");
    EXPECT_EQ(s.port, 443);
    EXPECT_EQ(s.path, "/a/b");
    EXPECT_EQ(s.hostname, "h");
    EXPECT_EQ(s.threads, 1024u);
}

TEST(config_cli, the_last_of_a_repeated_flag_wins) {
    EXPECT_EQ(started({"start", "--port", "1", "--port=2"}).port, 2);
}

TEST(config_cli, path_gets_one_leading_and_no_trailing_slash) {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},         {"/", ""},        {"///", ""},        {"app", "/app"},
        {"/app", "/app"}, {"app/", "/app"}, {"/a/b//", "/a/b"},
    };
    for (const auto& [given, expected] : cases) {
        EXPECT_EQ(started({"start", "--path=" + given}).path, expected) << given;
    }
}

TEST(config_cli, path_with_a_query_character_is_an_error) {
    EXPECT_EQ(failure({"start", "--path", "/ws?x"}), "--path: expected a URL path prefix, got \"/ws?x\"");
}

TEST(config_cli, bad_port_names_the_flag_and_the_value) {
    EXPECT_EQ(failure({"start", "--port", "abc"}), "--port: expected a number from 1 to 65535, got \"abc\"");
    EXPECT_EQ(failure({"start", "--port=0"}), "--port: expected a number from 1 to 65535, got \"0\"");
    EXPECT_EQ(failure({"start", "--port=65536"}), "--port: expected a number from 1 to 65535, got \"65536\"");
    EXPECT_EQ(failure({"start", "--port=-1"}), "--port: expected a number from 1 to 65535, got \"-1\"");
    EXPECT_EQ(failure({"start", "--port= 80"}), "--port: expected a number from 1 to 65535, got \" 80\"");
}

TEST(config_cli, threads_must_be_from_1_to_1024) {
    EXPECT_EQ(failure({"start", "--threads=0"}), "--threads: expected a number from 1 to 1024, got \"0\"");
    EXPECT_EQ(failure({"start", "--threads=1025"}),
              "--threads: expected a number from 1 to 1024, got \"1025\"");
}

TEST(config_cli, missing_value_names_the_flag) {
    EXPECT_EQ(failure({"start", "--port"}), "--port: expected a number from 1 to 65535");
    // A following flag is not swallowed as the value.
    EXPECT_EQ(failure({"start", "--host", "--debug"}), "--host: expected an address to listen on");
    EXPECT_EQ(failure({"start", "--host="}), "--host: expected an address to listen on, got \"\"");
    EXPECT_EQ(failure({"start", "--env="}), "--env: expected the name of a .env file, got \"\"");
}

TEST(config_cli, unknown_flag_is_an_error) {
    EXPECT_EQ(failure({"start", "--prot", "80"}), "unknown flag \"--prot\" (see ringcast start --help)");
    EXPECT_EQ(failure({"start", "--prot=80"}), "unknown flag \"--prot\" (see ringcast start --help)");
}

TEST(config_cli, debug_takes_no_value) {
    EXPECT_EQ(failure({"start", "--debug=yes"}), "--debug: takes no value, got \"yes\"");
}

TEST(config_cli, stray_argument_is_an_error) {
    EXPECT_EQ(failure({"start", "8080"}), "unexpected argument \"8080\" (see ringcast start --help)");
}

TEST(config_cli, usage_documents_every_flag_variable_and_default) {
    std::string text = usage();
    for (const char* needle : {"--host",
                               "--port",
                               "--path",
                               "--hostname",
                               "--debug",
                               "--threads",
                               "--env",
                               "--config",
                               "--help",
                               "REVERB_SERVER_HOST",
                               "REVERB_SERVER_PORT",
                               "REVERB_SERVER_PATH",
                               "REVERB_HOST",
                               "REVERB_MAX_REQUEST_SIZE",
                               "REVERB_APP_ID",
                               "REVERB_APP_KEY",
                               "REVERB_APP_SECRET",
                               "REVERB_APP_PING_INTERVAL",
                               "REVERB_APP_ACTIVITY_TIMEOUT",
                               "REVERB_APP_MAX_CONNECTIONS",
                               "REVERB_APP_MAX_MESSAGE_SIZE",
                               "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM",
                               "REVERB_APP_RATE_LIMITING_ENABLED",
                               "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS",
                               "REVERB_APP_RATE_LIMIT_DECAY_SECONDS",
                               "REVERB_APP_RATE_LIMIT_TERMINATE",
                               "\"rate_limiting\"",
                               "\"max_attempts\": 60",
                               "\"decay_seconds\": 60",
                               "\"terminate_on_limit\"",
                               "\"max_backend_events_per_second\"",
                               "\"max_read_requests_per_second\"",
                               "soketi",
                               "camelCase",
                               "-1 means unlimited",
                               "\"webhooks\": [{\"url\"",
                               "\"event_types\"",
                               "\"channel_name_starts_with\"",
                               "\"retry_max_ms\": 60000",
                               "\"ca_file\"",
                               "RINGCAST_WEBHOOK_URL",
                               "RINGCAST_WEBHOOK_EVENTS",
                               "RINGCAST_WEBHOOK_BATCH_MS",
                               "RINGCAST_WEBHOOK_DEBOUNCE_MS",
                               "RINGCAST_WEBHOOK_RETRY_FOR_MS",
                               "RINGCAST_WEBHOOK_CA_FILE",
                               "php artisan reverb:start",
                               "default 0.0.0.0",
                               "default 8080",
                               "\"max_pending_write_bytes\": 4194304",
                               "\"allowed_origins\"",
                               "app_id",
                               "app-secret"}) {
        EXPECT_NE(text.find(needle), std::string::npos) << needle;
    }
    EXPECT_EQ(text.find('{' + std::string("port}")), std::string::npos) << "unfilled placeholder";
}

TEST(config_env, server_settings_come_from_the_environment) {
    server s = started({"start"},
                       {"REVERB_SERVER_HOST=127.0.0.1", "REVERB_SERVER_PORT=6001", "REVERB_SERVER_PATH=/ws/",
                        "REVERB_HOST=ws.example.com", "REVERB_MAX_REQUEST_SIZE=5000"});
    EXPECT_EQ(s.host, "127.0.0.1");
    EXPECT_EQ(s.port, 6001);
    EXPECT_EQ(s.path, "/ws");
    EXPECT_EQ(s.hostname, "ws.example.com");
    EXPECT_EQ(s.max_body_bytes, 5000u);
}

TEST(config_env, client_facing_port_and_scheme_are_not_read) {
    server s = started({"start"}, {"REVERB_PORT=443", "REVERB_SCHEME=https"});
    EXPECT_EQ(s.port, 8080);
}

TEST(config_env, empty_and_null_values_count_as_unset) {
    server s = started({"start"}, {"REVERB_SERVER_PORT=", "REVERB_SERVER_HOST=null", "REVERB_APP_ID=(null)",
                                   "REVERB_APP_KEY=", "REVERB_APP_SECRET=empty"});
    EXPECT_EQ(s.port, 8080);
    EXPECT_EQ(s.host, "0.0.0.0");
    EXPECT_EQ(s.apps_source, "built-in development default");
}

TEST(config_env, bad_environment_value_names_the_variable) {
    EXPECT_EQ(failure({"start"}, {"REVERB_SERVER_PORT=http"}),
              "REVERB_SERVER_PORT: expected a number from 1 to 65535, got \"http\"");
    EXPECT_EQ(
        failure({"start"}, {"REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=everyone"}),
        "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM: expected \"all\", \"members\" or \"none\", got \"everyone\"");
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_PING_INTERVAL=0"}),
              "REVERB_APP_PING_INTERVAL: expected a number from 1 to 86400, got \"0\"");
}

TEST(config_env, without_credentials_the_development_default_app_is_used) {
    server s = started({"start"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps[0].id, "app-id");
    EXPECT_EQ(s.apps[0].key, "app-key");
    EXPECT_EQ(s.apps[0].secret, "app-secret");
    EXPECT_EQ(s.apps_source, "built-in development default");
}

TEST(config_env, reverb_app_variables_make_the_single_app) {
    server s = started({"start"}, {"REVERB_APP_ID=123", "REVERB_APP_KEY=key", "REVERB_APP_SECRET=secret",
                                   "REVERB_APP_PING_INTERVAL=20", "REVERB_APP_ACTIVITY_TIMEOUT=25",
                                   "REVERB_APP_MAX_CONNECTIONS=500", "REVERB_APP_MAX_MESSAGE_SIZE=4000",
                                   "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=all"});
    ASSERT_EQ(s.apps.size(), 1u);
    const app& a = s.apps[0];
    EXPECT_EQ(a.id, "123");
    EXPECT_EQ(a.key, "key");
    EXPECT_EQ(a.secret, "secret");
    EXPECT_EQ(a.ping_interval_s, 20u);
    EXPECT_EQ(a.activity_timeout_s, 25u);
    EXPECT_EQ(a.max_connections, 500u);
    EXPECT_EQ(a.max_message_size, 4000u);
    EXPECT_EQ(a.accept_client_events_from, client_events_from::all);
    EXPECT_EQ(s.apps_source, "environment");
}

TEST(config_env, rate_limiting_variables_configure_the_app) {
    server s = started({"start"},
                       {"REVERB_APP_ID=1", "REVERB_APP_KEY=k", "REVERB_APP_SECRET=s",
                        "REVERB_APP_RATE_LIMITING_ENABLED=true", "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS=5",
                        "REVERB_APP_RATE_LIMIT_DECAY_SECONDS=10", "REVERB_APP_RATE_LIMIT_TERMINATE=true"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_TRUE(s.apps[0].rate_limiting_enabled);
    EXPECT_EQ(s.apps[0].rate_limit_max_attempts, 5u);
    EXPECT_EQ(s.apps[0].rate_limit_decay_s, 10u);
    EXPECT_TRUE(s.apps[0].rate_limit_terminate);
}

TEST(config_env, rate_limiting_defaults_to_reverbs) {
    const app a = started({"start"}).apps.at(0);
    EXPECT_FALSE(a.rate_limiting_enabled);
    EXPECT_EQ(a.rate_limit_max_attempts, 60u);
    EXPECT_EQ(a.rate_limit_decay_s, 60u);
    EXPECT_FALSE(a.rate_limit_terminate);
}

TEST(config_env, booleans_are_read_as_laravel_writes_them) {
    for (const char* yes : {"true", "TRUE", "True", "(true)", "(TRUE)", "1", "yes", "YES"}) {
        server s = started({"start"}, {std::string("REVERB_APP_RATE_LIMITING_ENABLED=") + yes,
                                       std::string("REVERB_APP_RATE_LIMIT_TERMINATE=") + yes});
        EXPECT_TRUE(s.apps.at(0).rate_limiting_enabled) << yes;
        EXPECT_TRUE(s.apps.at(0).rate_limit_terminate) << yes;
    }
    for (const char* no : {"false", "False", "(false)", "(FALSE)", "0", "no", "No"}) {
        server s = started({"start"}, {std::string("REVERB_APP_RATE_LIMITING_ENABLED=") + no,
                                       std::string("REVERB_APP_RATE_LIMIT_TERMINATE=") + no});
        EXPECT_FALSE(s.apps.at(0).rate_limiting_enabled) << no;
        EXPECT_FALSE(s.apps.at(0).rate_limit_terminate) << no;
    }
    // Empty and null count as unset, as for every variable: the default stays.
    EXPECT_FALSE(
        started({"start"}, {"REVERB_APP_RATE_LIMITING_ENABLED=null"}).apps.at(0).rate_limiting_enabled);
}

TEST(config_env, bad_rate_limiting_values_name_the_variable) {
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_RATE_LIMITING_ENABLED=on"}),
              "REVERB_APP_RATE_LIMITING_ENABLED: expected true or false (or 1, 0, yes, no), got \"on\"");
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_RATE_LIMIT_TERMINATE=2"}),
              "REVERB_APP_RATE_LIMIT_TERMINATE: expected true or false (or 1, 0, yes, no), got \"2\"");
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS=0"}),
              "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS: expected a number from 1 to 4294967295, got \"0\"");
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_RATE_LIMIT_DECAY_SECONDS=86401"}),
              "REVERB_APP_RATE_LIMIT_DECAY_SECONDS: expected a number from 1 to 86400, got \"86401\"");
}

TEST(config_env, app_options_without_credentials_apply_to_the_default_app) {
    server s = started({"start"}, {"REVERB_APP_MAX_MESSAGE_SIZE=4000"});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps[0].key, "app-key");
    EXPECT_EQ(s.apps[0].max_message_size, 4000u);
    EXPECT_FALSE(s.apps[0].max_connections.has_value());
}

TEST(config_env, partial_credentials_name_the_missing_variable) {
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_ID=1", "REVERB_APP_SECRET=s"}),
              "REVERB_APP_KEY: missing from the process environment (no --env file given); REVERB_APP_ID, "
              "REVERB_APP_KEY and REVERB_APP_SECRET must be set together");
    EXPECT_EQ(failure({"start"}, {"REVERB_APP_KEY=k"}),
              "REVERB_APP_ID: missing from the process environment (no --env file given); REVERB_APP_ID, "
              "REVERB_APP_KEY and REVERB_APP_SECRET must be set together");
}

TEST_F(precedence, dotenv_file_supplies_settings_and_the_app) {
    std::string env = write(".env", "REVERB_SERVER_PORT=6001\nREVERB_APP_ID=7\nREVERB_APP_KEY=k\n"
                                    "REVERB_APP_SECRET=\"s\"\n");
    server s = started({"start", "--env", env});
    EXPECT_EQ(s.port, 6001);
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps[0].id, "7");
    EXPECT_EQ(s.apps[0].secret, "s");
    EXPECT_EQ(s.apps_source, "environment");
}

TEST_F(precedence, process_environment_wins_over_the_dotenv_file) {
    std::string env = write(".env", "REVERB_SERVER_PORT=6001\nREVERB_SERVER_HOST=10.0.0.1\n");
    server s = started({"start", "--env=" + env}, {"REVERB_SERVER_PORT=7000"});
    EXPECT_EQ(s.port, 7000);
    EXPECT_EQ(s.host, "10.0.0.1");
}

TEST_F(precedence, empty_process_variable_still_hides_the_dotenv_value) {
    std::string env = write(".env", "REVERB_SERVER_PORT=6001\n");
    EXPECT_EQ(started({"start", "--env", env}, {"REVERB_SERVER_PORT="}).port, 8080);
}

TEST_F(precedence, flag_wins_over_environment_and_dotenv) {
    std::string env = write(".env", "REVERB_SERVER_PORT=6001\nREVERB_SERVER_PATH=/file\n");
    server s =
        started({"start", "--env", env, "--port", "9000", "--path", "/flag"}, {"REVERB_SERVER_PORT=7000"});
    EXPECT_EQ(s.port, 9000);
    EXPECT_EQ(s.path, "/flag");
}

TEST_F(precedence, environment_wins_over_the_json_file) {
    std::string json = write("c.json", R"({"server": {"port": 6001, "host": "10.0.0.2", "threads": 3}})");
    std::string env = write(".env", "REVERB_SERVER_HOST=10.0.0.3\n");
    server s = started({"start", "--config", json, "--env", env}, {"REVERB_SERVER_PORT=7000"});
    EXPECT_EQ(s.port, 7000);
    EXPECT_EQ(s.host, "10.0.0.3");
    EXPECT_EQ(s.threads, 3u);
    EXPECT_EQ(started({"start", "--config", json, "--threads", "5"}).threads, 5u);
}

TEST_F(precedence, rate_limiting_comes_from_the_dotenv_file_and_the_process_wins) {
    std::string env =
        write(".env", "REVERB_APP_RATE_LIMITING_ENABLED=(true)\nREVERB_APP_RATE_LIMIT_MAX_ATTEMPTS=7\n"
                      "REVERB_APP_RATE_LIMIT_DECAY_SECONDS=\"15\"\nREVERB_APP_RATE_LIMIT_TERMINATE=yes\n");
    const app a = started({"start", "--env", env}).apps.at(0);
    EXPECT_TRUE(a.rate_limiting_enabled);
    EXPECT_EQ(a.rate_limit_max_attempts, 7u);
    EXPECT_EQ(a.rate_limit_decay_s, 15u);
    EXPECT_TRUE(a.rate_limit_terminate);
    const app b = started({"start", "--env", env},
                          {"REVERB_APP_RATE_LIMITING_ENABLED=false", "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS=9"})
                      .apps.at(0);
    EXPECT_FALSE(b.rate_limiting_enabled);
    EXPECT_EQ(b.rate_limit_max_attempts, 9u);
    EXPECT_EQ(b.rate_limit_decay_s, 15u);
}

TEST_F(precedence, bad_dotenv_boolean_names_the_file_and_variable) {
    std::string env = write(".env", "REVERB_APP_RATE_LIMIT_TERMINATE=maybe\n");
    EXPECT_EQ(
        failure({"start", "--env", env}),
        env + ": REVERB_APP_RATE_LIMIT_TERMINATE: expected true or false (or 1, 0, yes, no), got \"maybe\"");
}

TEST_F(precedence, json_apps_ignore_the_rate_limiting_variables) {
    std::string json = write("c.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s"}]})");
    const app a = started({"start", "--config", json}, {"REVERB_APP_RATE_LIMITING_ENABLED=true"}).apps.at(0);
    EXPECT_FALSE(a.rate_limiting_enabled);
}

TEST_F(precedence, bad_dotenv_value_names_the_file_and_variable) {
    std::string env = write(".env", "REVERB_SERVER_PORT=x\n");
    EXPECT_EQ(failure({"start", "--env", env}),
              env + ": REVERB_SERVER_PORT: expected a number from 1 to 65535, got \"x\"");
}

TEST_F(precedence, dotenv_syntax_error_names_the_file_and_line) {
    std::string env = write(".env", "A=1\nB=\"x\" y\n");
    EXPECT_EQ(failure({"start", "--env", env}),
              env + ": line 2: unexpected text after the closing quote of B");
}

TEST_F(precedence, missing_dotenv_file_is_an_error) {
    std::string missing = (dir_ / "nope.env").string();
    EXPECT_EQ(failure({"start", "--env", missing}),
              "--env: cannot read " + missing + ": No such file or directory");
}

TEST(config_cli, restart_takes_the_flags_of_start) {
    ringcast::core::result<command_line> r = run({"restart", "--host", "127.0.0.1", "--port", "6001"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->what, command_line::action::restart);
    EXPECT_EQ(r->settings.port, 6001);
    EXPECT_EQ(r->settings.apps.at(0).key, "app-key");
}
