// --console, --console-token, RINGCAST_CONSOLE(_TOKEN) and "server.console" (server/console.h).
#include "load_helpers.h"

namespace ringcast::config {
namespace {

using namespace test_support;

class console_settings_test : public config_files {};

const std::string token = "0123456789abcdef-token";

TEST_F(console_settings_test, off_by_default) {
    server s = started({"start"});
    EXPECT_FALSE(s.console.enabled());
    EXPECT_EQ(s.console.token, "");
}

TEST_F(console_settings_test, flags_set_the_path_and_token) {
    server s = started({"start", "--console", "console/", "--console-token", token});
    EXPECT_TRUE(s.console.enabled());
    EXPECT_EQ(s.console.path, "/console");
    EXPECT_EQ(s.console.token, token);
}

TEST_F(console_settings_test, flag_beats_environment_beats_json) {
    std::string json =
        write("c.json", R"({"server": {"console": {"path": "/from-json", "token": ")" + token + R"("}}})");
    server s = started({"start", "--config", json});
    EXPECT_EQ(s.console.path, "/from-json");
    EXPECT_EQ(s.console.token, token);
    s = started({"start", "--config", json},
                {"RINGCAST_CONSOLE=/from-env", "RINGCAST_CONSOLE_TOKEN=" + token + "-env"});
    EXPECT_EQ(s.console.path, "/from-env");
    EXPECT_EQ(s.console.token, token + "-env");
    s = started({"start", "--config", json, "--console", "/from-flag"}, {"RINGCAST_CONSOLE=/from-env"});
    EXPECT_EQ(s.console.path, "/from-flag");
}

TEST_F(console_settings_test, short_tokens_and_bad_paths_are_refused) {
    EXPECT_EQ(failure({"start", "--console-token", "short"}),
              "--console-token: expected a token of 16 characters or more, got \"short\"");
    EXPECT_EQ(failure({"start", "--console", ""}),
              "--console: expected a URL path such as /console, got \"\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_CONSOLE_TOKEN=short"}),
              "RINGCAST_CONSOLE_TOKEN: expected a token of 16 characters or more, got \"short\"");
    std::string json = write("c.json", R"({"server": {"console": {"path": "/c", "token": "short"}}})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": server.console.token: expected a token of 16 characters or more");
    json = write("d.json", R"({"server": {"console": {"path": "/c", "colour": "blue"}}})");
    EXPECT_NE(failure({"start", "--config", json}).find("server.console.colour"), std::string::npos);
}

TEST_F(console_settings_test, the_names_are_documented_and_known) {
    core::result<command_line> r = run({"start"}, {"RINGCAST_CONSOLE=/c", "RINGCAST_CONSOLE_TOKEN=" + token});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_NE(usage().find("--console PATH"), std::string::npos);
    EXPECT_NE(usage().find("RINGCAST_CONSOLE, RINGCAST_CONSOLE_TOKEN"), std::string::npos);
}

} // namespace
} // namespace ringcast::config
