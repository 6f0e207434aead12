#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/socket_id.h"

#include <gtest/gtest.h>

using namespace ringcast::pusher;

TEST(channel_name, kind_follows_the_longest_prefix) {
    EXPECT_EQ(kind_of("orders"), channel_kind::public_channel);
    EXPECT_EQ(kind_of("private-user.1"), channel_kind::private_channel);
    EXPECT_EQ(kind_of("private-encrypted-x"), channel_kind::private_encrypted);
    EXPECT_EQ(kind_of("private-encrypted-cache-x"), channel_kind::private_encrypted_cache);
    EXPECT_EQ(kind_of("private-cache-x"), channel_kind::private_cache);
    EXPECT_EQ(kind_of("presence-chat.1"), channel_kind::presence);
    EXPECT_EQ(kind_of("presence-cache-x"), channel_kind::presence_cache);
    EXPECT_EQ(kind_of("cache-x"), channel_kind::cache);
    EXPECT_EQ(kind_of("#server-to-user-42"), channel_kind::server_to_user);
    EXPECT_EQ(kind_of("privatechannel"), channel_kind::public_channel);
}

TEST(channel_name, accepts_pushers_character_set_up_to_the_limit) {
    EXPECT_TRUE(check_channel_name("App.Models.User.1", 164).ok());
    EXPECT_TRUE(check_channel_name("a-b_c=d@e,f.g;h", 164).ok());
    EXPECT_TRUE(check_channel_name(std::string(164, 'a'), 164).ok());
    EXPECT_FALSE(check_channel_name(std::string(165, 'a'), 164).ok());
}

TEST(channel_name, rejects_empty_names_and_other_characters) {
    EXPECT_FALSE(check_channel_name("", 164).ok());
    EXPECT_FALSE(check_channel_name("has space", 164).ok());
    EXPECT_FALSE(check_channel_name("slash/", 164).ok());
    EXPECT_FALSE(check_channel_name("#not-server-to-user", 164).ok());
    EXPECT_FALSE(check_channel_name("caf\xc3\xa9", 164).ok());
}

TEST(socket_id, generated_ids_have_the_format_sdks_validate) {
    socket_id_generator gen(42);
    for (int i = 0; i < 1000; ++i) {
        socket_key key = gen.next();
        std::string text = format_socket_id(key);
        EXPECT_TRUE(valid_socket_id(text));
        EXPECT_EQ(parse_socket_id(text), key);
    }
    EXPECT_EQ(parse_socket_id("99999999999.1"), 0u); // too large to be one of ours

    EXPECT_FALSE(valid_socket_id("1234"));
    EXPECT_FALSE(valid_socket_id(".1"));
    EXPECT_FALSE(valid_socket_id("1."));
    EXPECT_FALSE(valid_socket_id("1.2.3"));
    EXPECT_FALSE(valid_socket_id("a.1"));
}
