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

// Contexts are kept per thread and re-keyed per call: a long key (hashed first, RFC 4231 case 6),
// an empty key and a short key in turn must each give their own vector.
TEST(crypto, hmac_sha256_reuses_its_context_across_keys) {
    std::string long_key(131, '\xaa');
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(hmac_sha256_hex(long_key, "Test Using Larger Than Block-Size Key - Hash Key First"),
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        EXPECT_EQ(hmac_sha256_hex("", ""),
                  "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
        EXPECT_EQ(hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog"),
                  "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
        EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
