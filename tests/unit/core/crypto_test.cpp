#include "ringcast/core/crypto.h"

#include <gtest/gtest.h>

using namespace ringcast::core;

TEST(crypto, hmac_sha256_matches_pushers_private_channel_vector) {
    // Pusher's channel-authorization example: key 278d425bdf160c739803, socket 1234.1234.
    EXPECT_EQ(hmac_sha256_hex("7ad3773142a6692b25b8", "1234.1234:private-foobar"),
              "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
}

TEST(crypto, md5_matches_pushers_rest_example_body) {
    EXPECT_EQ(md5_hex(R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})"),
              "ec365a775a4cd0599faeb73354201b6f");
}

TEST(crypto, sha1_base64_matches_rfc6455_example) {
    EXPECT_EQ(sha1_base64("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
              "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(crypto, constant_time_equal_compares_length_and_bytes) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_TRUE(constant_time_equal("", ""));
}
