// soketi's per-app vocabulary in the --config JSON file: aliases in snake_case and camelCase,
// unit conversion, -1 for unlimited, and the errors for doubled settings (webhooks are in
// webhooks_test.cpp).
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

class soketi_apps : public config_files {
protected:
    // The JSON file of one app (id 1, key k, secret s) with `fields` added to it.
    std::string one_app(const std::string& fields) {
        return write("config.json", R"({"apps": [{"id": "1", "key": "k", "secret": "s", )" + fields + "}]}");
    }

    // The single app of a file that must load.
    app loaded(const std::string& fields) {
        server s = started({"start", "--config", one_app(fields)});
        EXPECT_EQ(s.apps.size(), 1u);
        return s.apps.empty() ? app{} : s.apps[0];
    }

    // The message of a file that must fail, without the "FILE: " prefix.
    std::string refused(const std::string& fields) {
        std::string json = one_app(fields);
        std::string message = failure({"start", "--config", json});
        EXPECT_EQ(message.rfind(json + ": ", 0), 0u) << message;
        return message.substr(std::min(message.size(), json.size() + 2));
    }
};

} // namespace

TEST_F(soketi_apps, snake_case_names_set_our_settings) {
    app a = loaded(R"("enable_client_messages": true, "max_backend_events_per_second": 100,
                      "max_client_events_per_second": 20, "max_read_requests_per_second": 50,
                      "max_presence_members_per_channel": 30, "max_presence_member_size_in_kb": 2,
                      "max_channel_name_length": 150, "max_event_channels_at_once": 40,
                      "max_event_name_length": 120, "max_event_payload_in_kb": 100,
                      "max_event_batch_size": 15, "enable_user_authentication": true,
                      "max_connections": 200)");
    EXPECT_EQ(a.accept_client_events_from, client_events_from::members);
    EXPECT_EQ(a.max_backend_events_per_second, 100u);
    EXPECT_EQ(a.max_client_events_per_second, 20u);
    EXPECT_EQ(a.max_read_requests_per_second, 50u);
    EXPECT_EQ(a.max_presence_members, 30u);
    EXPECT_EQ(a.max_presence_member_size, 2048u);
    EXPECT_EQ(a.max_channel_name_length, 150u);
    EXPECT_EQ(a.max_event_channels, 40u);
    EXPECT_EQ(a.max_event_name_length, 120u);
    EXPECT_EQ(a.max_event_payload_bytes, 102400u);
    EXPECT_EQ(a.max_batch_size, 15u);
    EXPECT_EQ(a.authorized_connections_timeout_s, 30u);
    EXPECT_EQ(a.max_connections, 200u);
}

TEST_F(soketi_apps, camel_case_names_set_the_same_settings) {
    app a = loaded(R"("enableClientMessages": false, "maxBackendEventsPerSecond": 100,
                      "maxClientEventsPerSecond": 20, "maxReadRequestsPerSecond": 50,
                      "maxPresenceMembersPerChannel": 30, "maxPresenceMemberSizeInKb": 2,
                      "maxChannelNameLength": 150, "maxEventChannelsAtOnce": 40,
                      "maxEventNameLength": 120, "maxEventPayloadInKb": 100,
                      "maxEventBatchSize": 15, "enableUserAuthentication": false,
                      "maxConnections": 200)");
    EXPECT_EQ(a.accept_client_events_from, client_events_from::none);
    EXPECT_EQ(a.max_backend_events_per_second, 100u);
    EXPECT_EQ(a.max_client_events_per_second, 20u);
    EXPECT_EQ(a.max_read_requests_per_second, 50u);
    EXPECT_EQ(a.max_presence_members, 30u);
    EXPECT_EQ(a.max_presence_member_size, 2048u);
    EXPECT_EQ(a.max_channel_name_length, 150u);
    EXPECT_EQ(a.max_event_channels, 40u);
    EXPECT_EQ(a.max_event_name_length, 120u);
    EXPECT_EQ(a.max_event_payload_bytes, 102400u);
    EXPECT_EQ(a.max_batch_size, 15u);
    EXPECT_EQ(a.authorized_connections_timeout_s, 0u);
    EXPECT_EQ(a.max_connections, 200u);
}

TEST_F(soketi_apps, a_soketi_app_entry_loads_unchanged) {
    // An app as soketi's docs write it for the array app manager.
    std::string json = write("soketi.json", R"({"apps": [{"id": "app-id", "key": "app-key",
        "secret": "app-secret", "maxConnections": -1, "enableClientMessages": true, "enabled": true,
        "maxBackendEventsPerSecond": -1, "maxClientEventsPerSecond": -1, "maxReadRequestsPerSecond": -1}]})");
    server s = started({"start", "--config", json});
    ASSERT_EQ(s.apps.size(), 1u);
    EXPECT_EQ(s.apps[0].id, "app-id");
    EXPECT_FALSE(s.apps[0].max_connections.has_value());
    EXPECT_EQ(s.apps[0].accept_client_events_from, client_events_from::members);
}

TEST_F(soketi_apps, camel_case_works_for_every_app_key) {
    app a = loaded(R"("pingInterval": 20, "activityTimeout": 25, "allowedOrigins": ["example.com"],
                      "acceptClientEventsFrom": "all", "maxEventPayloadBytes": 500,
                      "rateLimiting": {"enabled": true}, "subscriptionCount": true)");
    EXPECT_EQ(a.ping_interval_s, 20u);
    EXPECT_EQ(a.activity_timeout_s, 25u);
    EXPECT_EQ(a.allowed_origins, std::vector<std::string>{"example.com"});
    EXPECT_EQ(a.accept_client_events_from, client_events_from::all);
    EXPECT_EQ(a.max_event_payload_bytes, 500u);
    EXPECT_TRUE(a.rate_limiting_enabled);
    EXPECT_TRUE(a.subscription_count);
    std::string json = write("app_id.json", R"({"apps": [{"appId": 7, "key": "k", "secret": "s"}]})");
    EXPECT_EQ(started({"start", "--config", json}).apps.at(0).id, "7");
}

TEST_F(soketi_apps, unknown_key_is_named_as_written) {
    EXPECT_EQ(refused(R"("maxConection": 5)"), "unknown key \"apps[0].maxConection\"");
    EXPECT_EQ(refused(R"("max_Connections": 5)"), "unknown key \"apps[0].max_Connections\"");
    EXPECT_EQ(refused(R"("MaxConnections": 5)"), "unknown key \"apps[0].MaxConnections\"");
    EXPECT_EQ(refused(R"("max_event_payload_in_Kb": 5)"), "unknown key \"apps[0].max_event_payload_in_Kb\"");
}

TEST_F(soketi_apps, rate_limiting_keys_are_reverbs_snake_case_only) {
    EXPECT_EQ(refused(R"("rate_limiting": {"maxAttempts": 5})"),
              "unknown key \"apps[0].rate_limiting.maxAttempts\"");
}

TEST_F(soketi_apps, kilobytes_become_bytes_and_may_be_fractions) {
    EXPECT_EQ(loaded(R"("max_event_payload_in_kb": 0.5)").max_event_payload_bytes, 512u);
    EXPECT_EQ(loaded(R"("maxEventPayloadInKb": 10)").max_event_payload_bytes, 10240u);
    EXPECT_EQ(loaded(R"("max_presence_member_size_in_kb": 1.5)").max_presence_member_size, 1536u);
    // Rounded down: soketi refuses a payload when bytes / 1024 > limit, so 0.3 KB admits 307 bytes.
    EXPECT_EQ(loaded(R"("max_event_payload_in_kb": 0.3)").max_event_payload_bytes, 307u);
    EXPECT_EQ(loaded(R"("max_event_payload_in_kb": 0.001)").max_event_payload_bytes, 1u);
    EXPECT_EQ(loaded(R"("max_event_payload_in_kb": 4194303)").max_event_payload_bytes, 4294966272u);
}

TEST_F(soketi_apps, kilobytes_out_of_range_are_errors) {
    for (const char* value : {"0", "-1", "0.0005", "4194304", "\"1\"", "null"}) {
        EXPECT_EQ(refused(std::string(R"("max_event_payload_in_kb": )") + value),
                  "apps[0].max_event_payload_in_kb: expected a number of kilobytes from 0.001 to 4194303")
            << value;
    }
    EXPECT_EQ(refused(R"("maxPresenceMemberSizeInKb": 0)"),
              "apps[0].maxPresenceMemberSizeInKb: expected a number of kilobytes from 0.001 to 4194303");
}

TEST_F(soketi_apps, enable_client_messages_means_members_or_none) {
    EXPECT_EQ(loaded(R"("enable_client_messages": true)").accept_client_events_from,
              client_events_from::members);
    EXPECT_EQ(loaded(R"("enable_client_messages": false)").accept_client_events_from,
              client_events_from::none);
    EXPECT_EQ(refused(R"("enableClientMessages": "yes")"),
              "apps[0].enableClientMessages: expected true or false");
}

TEST_F(soketi_apps, enable_user_authentication_sets_the_authorized_connections_timeout) {
    EXPECT_EQ(loaded(R"("enable_user_authentication": true)").authorized_connections_timeout_s, 30u);
    EXPECT_EQ(loaded(R"("enable_user_authentication": false)").authorized_connections_timeout_s, 0u);
    // An explicit timeout wins, in either order, when the two agree.
    EXPECT_EQ(loaded(R"("enable_user_authentication": true, "authorized_connections_timeout": 60)")
                  .authorized_connections_timeout_s,
              60u);
    EXPECT_EQ(loaded(R"("authorized_connections_timeout": 60, "enableUserAuthentication": true)")
                  .authorized_connections_timeout_s,
              60u);
    EXPECT_EQ(loaded(R"("enable_user_authentication": false, "authorized_connections_timeout": 0)")
                  .authorized_connections_timeout_s,
              0u);
    EXPECT_EQ(refused(R"("enable_user_authentication": 1)"),
              "apps[0].enable_user_authentication: expected true or false");
}

TEST_F(soketi_apps, enable_user_authentication_contradicting_the_timeout_is_an_error) {
    EXPECT_EQ(
        refused(R"("enable_user_authentication": false, "authorized_connections_timeout": 60)"),
        "apps[0]: \"enable_user_authentication\": false contradicts \"authorized_connections_timeout\": 60");
    EXPECT_EQ(refused(R"("authorizedConnectionsTimeout": 0, "enableUserAuthentication": true)"),
              "apps[0]: \"enableUserAuthentication\": true contradicts \"authorizedConnectionsTimeout\": 0");
}

TEST_F(soketi_apps, minus_one_means_unlimited) {
    app a = loaded(R"("max_connections": -1, "max_backend_events_per_second": -1,
                      "max_read_requests_per_second": -1, "max_client_events_per_second": -1)");
    EXPECT_FALSE(a.max_connections.has_value());
    EXPECT_EQ(a.max_backend_events_per_second, 0u);
    EXPECT_EQ(a.max_read_requests_per_second, 0u);
    // 0 would refuse every client event; unlimited is the largest count instead.
    EXPECT_EQ(a.max_client_events_per_second, std::numeric_limits<std::uint32_t>::max());
    app b = loaded(R"("maxConnections": -1, "maxClientEventsPerSecond": -1)");
    EXPECT_FALSE(b.max_connections.has_value());
    EXPECT_EQ(b.max_client_events_per_second, std::numeric_limits<std::uint32_t>::max());
}

TEST_F(soketi_apps, other_negative_numbers_and_zero_client_events_are_errors) {
    EXPECT_EQ(refused(R"("max_connections": -2)"),
              "apps[0].max_connections: expected null or -1 (unlimited) or a number from 1 to 4294967295");
    EXPECT_EQ(refused(R"("maxConnections": -1.0)"),
              "apps[0].maxConnections: expected null or -1 (unlimited) or a number from 1 to 4294967295");
    EXPECT_EQ(
        refused(R"("max_client_events_per_second": 0)"),
        "apps[0].max_client_events_per_second: expected a number from 1 to 4294967295, or -1 (unlimited)");
    EXPECT_EQ(refused(R"("maxClientEventsPerSecond": -2)"),
              "apps[0].maxClientEventsPerSecond: expected a number from 1 to 4294967295, or -1 (unlimited)");
    EXPECT_EQ(
        refused(R"("max_backend_events_per_second": -5)"),
        "apps[0].max_backend_events_per_second: expected a number from 0 to 4294967295, or -1 (unlimited)");
    EXPECT_EQ(refused(R"("maxReadRequestsPerSecond": "-1")"),
              "apps[0].maxReadRequestsPerSecond: expected a number from 0 to 4294967295, or -1 (unlimited)");
}

TEST_F(soketi_apps, one_setting_under_two_names_is_an_error) {
    const std::pair<const char*, const char*> cases[] = {
        {R"("max_event_batch_size": 5, "max_batch_size": 5)",
         "apps[0]: both \"max_event_batch_size\" and \"max_batch_size\" given"},
        {R"("maxConnections": 5, "max_connections": 5)",
         "apps[0]: both \"maxConnections\" and \"max_connections\" given"},
        {R"("max_event_payload_bytes": 512, "maxEventPayloadInKb": 0.5)",
         "apps[0]: both \"max_event_payload_bytes\" and \"maxEventPayloadInKb\" given"},
        {R"("accept_client_events_from": "all", "enable_client_messages": true)",
         "apps[0]: both \"accept_client_events_from\" and \"enable_client_messages\" given"},
        {R"("max_presence_members": 5, "maxPresenceMembersPerChannel": 5)",
         "apps[0]: both \"max_presence_members\" and \"maxPresenceMembersPerChannel\" given"},
        {R"("max_presence_member_size_in_kb": 1, "max_presence_member_size": 1024)",
         "apps[0]: both \"max_presence_member_size_in_kb\" and \"max_presence_member_size\" given"},
        {R"("max_event_channels_at_once": 5, "max_event_channels": 5)",
         "apps[0]: both \"max_event_channels_at_once\" and \"max_event_channels\" given"},
        {R"("rateLimiting": {}, "rate_limiting": {})",
         "apps[0]: both \"rateLimiting\" and \"rate_limiting\" given"},
        {R"("appId": "2")", "apps[0]: both \"id\" and \"appId\" given"},
    };
    for (const auto& [fields, message] : cases) {
        EXPECT_EQ(refused(fields), message) << fields;
    }
}
