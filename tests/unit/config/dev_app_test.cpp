// Honest configuration: the development app refused beyond loopback, unknown names warned about
// with the closest known one, the two port variables told apart, missing values located.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

class honest_config : public config_files {};

// load() as main runs it, with what it logged to stderr.
std::string warnings_of(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    testing::internal::CaptureStderr();
    ringcast::core::result<command_line> r = run(args, env);
    std::string said = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(r.ok()) << r.error().message();
    return said;
}

std::string refusal(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    ringcast::core::result<command_line> r = run_as_given(args, env);
    EXPECT_FALSE(r.ok());
    return r ? std::string{} : r.error().message();
}

} // namespace

TEST(dev_app, refused_on_every_address_by_default) {
    std::string why = refusal({"start"});
    EXPECT_NE(why.find("refusing to listen on 0.0.0.0:8080 with the development app's secret"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("no REVERB_APP_ID/KEY/SECRET in the process environment (no --env file given)"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("--allow-dev-credentials"), std::string::npos) << why;
    EXPECT_NE(refusal({"start", "--host", "192.168.1.5"}).find("192.168.1.5:8080"), std::string::npos);
}

TEST(dev_app, served_on_loopback) {
    for (const char* host : {"127.0.0.1", "127.0.1.1", "::1", "localhost"}) {
        ringcast::core::result<command_line> r = run_as_given({"start", "--host", host});
        ASSERT_TRUE(r.ok()) << host << ": " << r.error().message();
        EXPECT_EQ(r->settings.apps.at(0).secret, "app-secret");
    }
}

TEST(dev_app, served_anywhere_when_asked_for_by_name) {
    ringcast::core::result<command_line> r = run_as_given({"start", "--allow-dev-credentials"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->settings.host, "0.0.0.0");
    EXPECT_EQ(failure({"start", "--allow-dev-credentials=yes"}),
              "--allow-dev-credentials: takes no value, got \"yes\"");
}

TEST(dev_app, real_credentials_need_no_flag) {
    ringcast::core::result<command_line> r =
        run_as_given({"start"}, {"REVERB_APP_ID=1", "REVERB_APP_KEY=k", "REVERB_APP_SECRET=a-real-secret"});
    ASSERT_TRUE(r.ok()) << r.error().message();
}

TEST_F(honest_config, the_refusal_names_the_env_file_that_lacked_credentials) {
    std::string env = write(".env", "APP_NAME=Laravel\nBROADCAST_CONNECTION=reverb\n");
    std::string why = refusal({"start", "--env", env});
    EXPECT_NE(why.find("no REVERB_APP_ID/KEY/SECRET in " + env + " and the process environment"),
              std::string::npos)
        << why;
}

TEST_F(honest_config, a_config_file_app_with_the_public_secret_is_refused_too) {
    std::string json = write("apps.json", R"({"apps": [{"id": "1", "key": "k", "secret": "app-secret"}]})");
    std::string why = refusal({"start", "--config", json});
    EXPECT_NE(why.find("an app in " + json + " has the development default"), std::string::npos) << why;
}

TEST_F(honest_config, a_missing_credential_names_the_file_it_was_expected_in) {
    std::string env = write(".env", "REVERB_APP_ID=1\nREVERB_APP_KEY=k\n");
    EXPECT_EQ(
        failure({"start", "--env", env}),
        "REVERB_APP_SECRET: missing from " + env +
            " and the process environment; REVERB_APP_ID, REVERB_APP_KEY and REVERB_APP_SECRET must be set "
            "together");
}

TEST_F(honest_config, the_tutorials_typo_is_named_with_the_closest_name_and_both_ports_explained) {
    std::string env =
        write(".env", "REVERB_REVERB_PORT=8080\nREVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n");
    std::string said = warnings_of({"start", "--env", env});
    EXPECT_NE(said.find(env + ": REVERB_REVERB_PORT is not a setting ringcast knows (ignored); did you mean "
                              "REVERB_SERVER_PORT?"),
              std::string::npos)
        << said;
    EXPECT_NE(said.find("REVERB_PORT is the public port the app publishes to"), std::string::npos) << said;
}

TEST(honest_names, misspelt_names_get_the_closest_known_one) {
    std::string said =
        warnings_of({"start"}, {"REVERB_APP_SECRETT=x", "PUSHER_APP_KYE=y", "RINGCAST_WEBHOOK_ULR=z"});
    EXPECT_NE(
        said.find("environment: REVERB_APP_SECRETT is not a setting ringcast knows (ignored); did you mean "
                  "REVERB_APP_SECRET?"),
        std::string::npos)
        << said;
    EXPECT_NE(
        said.find("PUSHER_APP_KYE is not a setting ringcast knows (ignored); did you mean PUSHER_APP_KEY?"),
        std::string::npos)
        << said;
    EXPECT_NE(said.find("did you mean RINGCAST_WEBHOOK_URL?"), std::string::npos) << said;
}

TEST(honest_names, known_names_other_prefixes_and_our_scripts_variables_are_not_warned_about) {
    std::string said =
        warnings_of({"start"}, {"REVERB_PORT=8080", "REVERB_SCHEME=http", "PUSHER_APP_CLUSTER=mt1",
                                "VITE_REVERB_PORT=8080", "APP_KEY=base64:x", "RINGCAST_BUILD_DIR=b",
                                "RINGCAST_E2E_LOG_DIR=/tmp"});
    EXPECT_EQ(said.find("not a setting"), std::string::npos) << said;
}

TEST(honest_ports, a_public_port_other_than_the_listening_one_is_explained) {
    std::string said = warnings_of({"start"}, {"REVERB_PORT=6001"});
    EXPECT_NE(said.find("environment: REVERB_PORT=6001 but ringcast listens on 8080."), std::string::npos)
        << said;
    EXPECT_NE(said.find("set REVERB_SERVER_PORT=6001"), std::string::npos) << said;
}

TEST(honest_ports, proxy_ports_and_explicit_server_ports_are_not_warned_about) {
    for (const std::vector<std::string>& env : std::vector<std::vector<std::string>>{
             {"REVERB_PORT=443"}, {"REVERB_PORT=8080"}, {"REVERB_PORT=6001", "REVERB_SERVER_PORT=9000"}}) {
        std::string said = warnings_of({"start"}, env);
        EXPECT_EQ(said.find("REVERB_PORT="), std::string::npos) << said;
    }
    EXPECT_EQ(warnings_of({"start", "--port", "9000"}, {"REVERB_PORT=6001"}).find("REVERB_PORT="),
              std::string::npos);
}

TEST_F(honest_config, the_example_configs_placeholder_secret_is_refused_even_on_loopback) {
    std::string json = write("ringcast.json", R"({"server": {"host": "127.0.0.1"},
        "apps": [{"id": "1", "key": "k", "secret": "replace-with-a-long-random-secret"}]})");
    std::string why = failure({"start", "--config", json});
    EXPECT_NE(why.find("app \"1\" in " + json + " still has the example's placeholder secret"),
              std::string::npos)
        << why;
}
