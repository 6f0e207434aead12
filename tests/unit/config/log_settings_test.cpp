// --log-level, --log-format, --debug-app, --debug-channel, their variables and JSON keys.
#include "load_helpers.h"

namespace ringcast::config {
namespace {

using namespace test_support;

class log_settings : public config_files {};

TEST_F(log_settings, the_defaults_are_info_and_text_and_no_filter) {
    server s = started({"start"});
    EXPECT_EQ(s.log_level, "info");
    EXPECT_EQ(s.log_format, "text");
    EXPECT_EQ(s.debug_app, "");
    EXPECT_EQ(s.debug_channel, "");
}

TEST_F(log_settings, flags_set_them_in_any_case) {
    server s = started({"start", "--log-level", "WARNING", "--log-format=JSON", "--debug-app", "app-1",
                        "--debug-channel", "private-orders."});
    EXPECT_EQ(s.log_level, "warn");
    EXPECT_EQ(s.log_format, "json");
    EXPECT_EQ(s.debug_app, "app-1");
    EXPECT_EQ(s.debug_channel, "private-orders.");
}

TEST_F(log_settings, flag_beats_environment_beats_dotenv_beats_json) {
    std::string json = write("c.json", R"({"server": {"log_level": "error", "log_format": "json",
        "debug_app": "from-json", "debug_channel": "presence-"}})");
    server s = started({"start", "--config", json});
    EXPECT_EQ(s.log_level, "error");
    EXPECT_EQ(s.log_format, "json");
    EXPECT_EQ(s.debug_app, "from-json");
    EXPECT_EQ(s.debug_channel, "presence-");
    std::string env = write(".env", "RINGCAST_LOG_LEVEL=debug\nRINGCAST_LOG_FORMAT=text\n");
    s = started({"start", "--config", json, "--env", env});
    EXPECT_EQ(s.log_level, "debug");
    EXPECT_EQ(s.log_format, "text");
    s = started({"start", "--config", json, "--env", env}, {"RINGCAST_LOG_LEVEL=warn"});
    EXPECT_EQ(s.log_level, "warn");
    s = started({"start", "--config", json, "--env", env, "--log-level", "info"},
                {"RINGCAST_LOG_LEVEL=warn"});
    EXPECT_EQ(s.log_level, "info");
}

TEST_F(log_settings, bad_values_are_refused_naming_the_source) {
    EXPECT_EQ(failure({"start", "--log-level", "loud"}),
              "--log-level: expected debug, info, warn or error, got \"loud\"");
    EXPECT_EQ(failure({"start", "--log-format", "xml"}), "--log-format: expected text or json, got \"xml\"");
    EXPECT_EQ(failure({"start", "--debug-app", ""}), "--debug-app: expected an app id, got \"\"");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_LOG_FORMAT=yaml"}),
              "RINGCAST_LOG_FORMAT: expected text or json, got \"yaml\"");
    std::string json = write("c.json", R"({"server": {"log_level": "verbose"}})");
    EXPECT_EQ(failure({"start", "--config", json}),
              json + ": server.log_level: expected debug, info, warn or error");
}

TEST_F(log_settings, the_variables_are_known_names) {
    core::result<command_line> r = run({"start"}, {"RINGCAST_LOG_LEVEL=info", "RINGCAST_LOG_FORMAT=text"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_NE(usage().find("--log-level LEVEL"), std::string::npos);
    EXPECT_NE(usage().find("--debug-channel PREFIX"), std::string::npos);
    EXPECT_NE(usage().find("RINGCAST_LOG_LEVEL, RINGCAST_LOG_FORMAT"), std::string::npos);
}

} // namespace
} // namespace ringcast::config
