#include "ringcast/core/json_writer.h"

#include <gtest/gtest.h>

using ringcast::core::append_json_escaped;
using ringcast::core::append_json_string;

TEST(json_writer, quotes_and_escapes_what_json_requires) {
    std::string out;
    append_json_string(out, "a\"b\\c\n\r\t");
    EXPECT_EQ(out, R"("a\"b\\c\n\r\t")");
}

TEST(json_writer, other_control_characters_become_unicode_escapes) {
    std::string out;
    append_json_escaped(out, std::string_view("\x01\x1f", 2));
    EXPECT_EQ(out, R"(\u0001\u001f)");
}

TEST(json_writer, utf8_and_slashes_pass_through_unchanged) {
    std::string out;
    append_json_escaped(out, "caf\xc3\xa9 a/b");
    EXPECT_EQ(out, "caf\xc3\xa9 a/b");
}

TEST(json_writer, appends_to_what_is_already_there) {
    std::string out = "{\"k\":";
    append_json_string(out, "");
    EXPECT_EQ(out, R"({"k":"")");
}
