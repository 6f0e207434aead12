#include "ringcast/auth/signature.h"
#include "ringcast/core/crypto.h"

#include <gtest/gtest.h>

using namespace ringcast;

namespace {
auth::app_credentials pusher_example_app() {
    return {"3", "278d425bdf160c739803", "7ad3773142a6692b25b8"};
}
const std::string example_body = R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})";
constexpr std::int64_t example_time = 1353088179;

auth::params example_query(std::string signature) {
    return {{"auth_key", "278d425bdf160c739803"},
            {"auth_timestamp", "1353088179"},
            {"auth_version", "1.0"},
            {"body_md5", "ec365a775a4cd0599faeb73354201b6f"},
            {"auth_signature", std::move(signature)}};
}
const std::string example_signature = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";
} // namespace

TEST(signature, string_to_sign_matches_pushers_worked_example) {
    EXPECT_EQ(
        auth::string_to_sign("POST", "/apps/3/events", example_query("x")),
        "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&"
        "body_md5=ec365a775a4cd0599faeb73354201b6f");
}

TEST(signature, accepts_pushers_worked_example) {
    EXPECT_TRUE(auth::verify(pusher_example_app(), "POST", "/apps/3/events", "",
                             example_query(example_signature), example_body, example_time));
}

TEST(signature, lowercases_and_sorts_keys_without_escaping_values) {
    auth::params q = {{"Name", "Something else"}, {"auth_key", "k"}, {"auth_signature", "x"}};
    EXPECT_EQ(auth::canonical_query(q), "auth_key=k&name=Something else");
}

TEST(signature, rejects_a_wrong_signature_with_the_string_to_sign) {
    auto err = auth::verify(pusher_example_app(), "POST", "/apps/3/events", "",
                            example_query(std::string(64, '0')), example_body, example_time);
    EXPECT_EQ(err.code(), 401);
    EXPECT_NE(err.message().find("POST\\n/apps/3/events\\nauth_key="), std::string::npos);
}

TEST(signature, rejects_timestamps_outside_600_seconds) {
    EXPECT_TRUE(auth::verify(pusher_example_app(), "POST", "/apps/3/events", "",
                             example_query(example_signature), example_body, example_time + 600));
    auto err = auth::verify(pusher_example_app(), "POST", "/apps/3/events", "",
                            example_query(example_signature), example_body, example_time + 601);
    EXPECT_EQ(err.code(), 401);
    EXPECT_NE(err.message().find("Timestamp expired"), std::string::npos);
}

TEST(signature, rejects_a_body_that_does_not_match_body_md5) {
    auto err = auth::verify(pusher_example_app(), "POST", "/apps/3/events", "",
                            example_query(example_signature), example_body + " ", example_time);
    EXPECT_EQ(err.code(), 401);
    EXPECT_NE(err.message().find("body_md5"), std::string::npos);
}

TEST(signature, rejects_another_apps_key) {
    auto q = example_query(example_signature);
    q[0].second = "other";
    EXPECT_EQ(auth::verify(pusher_example_app(), "POST", "/apps/3/events", "", q, example_body, example_time)
                  .code(),
              401);
}

TEST(signature, accepts_the_path_with_or_without_the_server_prefix) {
    // Signed over /apps/3/events (as the PHP SDK does) but sent to /ws/apps/3/events.
    EXPECT_TRUE(auth::verify(pusher_example_app(), "POST", "/ws/apps/3/events", "/ws",
                             example_query(example_signature), example_body, example_time));
    // Signed over the full path.
    auto q = example_query("");
    q.back().second =
        core::hmac_sha256_hex("7ad3773142a6692b25b8", auth::string_to_sign("POST", "/ws/apps/3/events", q));
    EXPECT_TRUE(auth::verify(pusher_example_app(), "POST", "/ws/apps/3/events", "/ws", q, example_body,
                             example_time));
}

TEST(signature, get_without_body_needs_no_body_md5) {
    auth::params q = {
        {"auth_key", "278d425bdf160c739803"}, {"auth_timestamp", "1353088179"}, {"auth_version", "1.0"}};
    q.emplace_back(
        "auth_signature",
        core::hmac_sha256_hex("7ad3773142a6692b25b8", auth::string_to_sign("GET", "/apps/3/channels", q)));
    EXPECT_TRUE(auth::verify(pusher_example_app(), "GET", "/apps/3/channels", "", q, "", example_time));
}

// Keys are compared and sorted as lower case (AUTH_KEY is auth_key), duplicates keep their order,
// and auth_signature in any case is left out.
TEST(signature, canonical_query_sorts_keys_in_any_case_stably) {
    ringcast::auth::params q = {{"b", "2"}, {"Auth_Signature", "x"}, {"A", "1"}, {"b", "1"}, {"aa", "3"},
                                {"Z", "~"}};
    EXPECT_EQ(ringcast::auth::canonical_query(q), "a=1&aa=3&b=2&b=1&z=~");
}
