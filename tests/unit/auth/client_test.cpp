// Pusher's published signature vectors (key 278d425bdf160c739803, secret 7ad3773142a6692b25b8,
// socket 1234.1234; see the compatibility spec, section 1.8).
#include "ringcast/auth/client.h"

#include <gtest/gtest.h>

using namespace ringcast::auth;

namespace {
constexpr std::string_view key = "278d425bdf160c739803";
constexpr std::string_view secret = "7ad3773142a6692b25b8";
} // namespace

TEST(auth, private_channel_vector_is_accepted) {
    std::string to_sign = channel_string_to_sign("1234.1234", "private-foobar");
    EXPECT_EQ(to_sign, "1234.1234:private-foobar");
    EXPECT_EQ(
        check_auth(key, secret,
                   "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4",
                   to_sign),
        auth_check::ok);
}

TEST(auth, presence_vector_signs_the_channel_data_as_sent) {
    std::string data = R"({"user_id":10,"user_info":{"name":"Mr. Channels"}})";
    std::string to_sign = channel_string_to_sign("1234.1234", "presence-foobar", data);
    EXPECT_EQ(to_sign, "1234.1234:presence-foobar:" + data);
    // The docs print afaed369... beside this string, but that is the signature of the older
    // "Mr. Pusher" text; this is the string's real HMAC (recomputed, see the spec).
    EXPECT_EQ(
        check_auth(key, secret,
                   "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80",
                   to_sign),
        auth_check::ok);
    EXPECT_EQ(
        check_auth(key, secret,
                   "278d425bdf160c739803:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c",
                   to_sign),
        auth_check::wrong_signature);
}

TEST(auth, user_signin_vector_is_accepted) {
    std::string to_sign = signin_string_to_sign("1234.1234", R"({"id":"12345"})");
    EXPECT_EQ(to_sign, R"(1234.1234::user::{"id":"12345"})");
    EXPECT_EQ(
        check_auth(key, secret,
                   "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba",
                   to_sign),
        auth_check::ok);
}

TEST(auth, each_kind_of_bad_value_is_told_apart) {
    std::string to_sign = channel_string_to_sign("1234.1234", "private-foobar");
    std::string sig = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
    EXPECT_EQ(check_auth(key, secret, "", to_sign), auth_check::missing);
    EXPECT_EQ(check_auth(key, secret, sig, to_sign), auth_check::malformed);
    EXPECT_EQ(check_auth(key, secret, "other-key:" + sig, to_sign), auth_check::wrong_key);
    EXPECT_EQ(check_auth(key, "other-secret", std::string(key) + ":" + sig, to_sign),
              auth_check::wrong_signature);
    // Another socket's signature does not carry over.
    EXPECT_EQ(check_auth(key, secret, std::string(key) + ":" + sig,
                         channel_string_to_sign("1.2", "private-foobar")),
              auth_check::wrong_signature);
    // Upper-case hex is not what Pusher's libraries produce, and is refused like any other mismatch.
    std::string upper = sig;
    for (char& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(check_auth(key, secret, std::string(key) + ":" + upper, to_sign), auth_check::wrong_signature);
}
