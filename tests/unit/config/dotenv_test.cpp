// parse_dotenv: the Laravel .env syntax.
#include "ringcast/config/config.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

using namespace ringcast::config;

namespace {

ringcast::core::result<variables> dotenv(std::string_view text, const variables& process_env = {}) {
    return parse_dotenv(text, process_env);
}

} // namespace

TEST(config_dotenv, reads_assignments_and_skips_blank_lines_and_comments) {
    ringcast::core::result<variables> r =
        dotenv("# Reverb\n\nREVERB_APP_ID=123\n   # indented comment\nREVERB_HOST = localhost\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value(), (variables{{"REVERB_APP_ID", "123"}, {"REVERB_HOST", "localhost"}}));
}

TEST(config_dotenv, export_prefix_is_ignored) {
    ringcast::core::result<variables> r = dotenv("export REVERB_APP_KEY=abc\nexport=1\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value(), (variables{{"REVERB_APP_KEY", "abc"}, {"export", "1"}}));
}

TEST(config_dotenv, double_quotes_understand_escapes) {
    ringcast::core::result<variables> r = dotenv(R"(A="line1\nline2"
B="say \"hi\" \\ # not a comment"
C="cost \$5"
D="C:\path"
)");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["A"], "line1\nline2");
    EXPECT_EQ(r.value()["B"], "say \"hi\" \\ # not a comment");
    EXPECT_EQ(r.value()["C"], "cost $5");
    EXPECT_EQ(r.value()["D"], "C:\\path");
}

TEST(config_dotenv, single_quotes_are_literal) {
    ringcast::core::result<variables> r = dotenv("X=1\nA='a\\nb ${X} \"q\"' # comment\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["A"], "a\\nb ${X} \"q\"");
}

TEST(config_dotenv, unquoted_values_are_trimmed_and_lose_trailing_comments) {
    ringcast::core::result<variables> r =
        dotenv("A=  value with spaces   # comment\nB=pa#ss\nC=\nD= # only a comment\nE=a\t\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["A"], "value with spaces");
    EXPECT_EQ(r.value()["B"], "pa#ss");
    EXPECT_EQ(r.value()["C"], "");
    EXPECT_EQ(r.value()["D"], "");
    EXPECT_EQ(r.value()["E"], "a");
}

TEST(config_dotenv, interpolates_keys_defined_earlier) {
    ringcast::core::result<variables> r =
        dotenv("REVERB_APP_KEY=abc\nVITE_REVERB_APP_KEY=\"${REVERB_APP_KEY}\"\n"
               "URL=http://${REVERB_APP_KEY}.test\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["VITE_REVERB_APP_KEY"], "abc");
    EXPECT_EQ(r.value()["URL"], "http://abc.test");
}

TEST(config_dotenv, interpolation_prefers_the_process_environment) {
    ringcast::core::result<variables> r = dotenv("HOST=file\nURL=\"ws://${HOST}\"\n", {{"HOST", "process"}});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["URL"], "ws://process");
}

TEST(config_dotenv, undefined_reference_becomes_empty_and_malformed_one_stays_literal) {
    ringcast::core::result<variables> r = dotenv("A=\"x${NOPE}y\"\nB=$HOME\nC=${unclosed\nD=${}\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["A"], "xy");
    EXPECT_EQ(r.value()["B"], "$HOME");
    EXPECT_EQ(r.value()["C"], "${unclosed");
    EXPECT_EQ(r.value()["D"], "${}");
}

TEST(config_dotenv, quoted_value_may_span_lines) {
    ringcast::core::result<variables> r =
        dotenv("KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\nBAD\n");
    EXPECT_EQ(r.error().message(), "line 5: expected \"=\" after BAD");
    r = dotenv("KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["KEY"], "-----BEGIN-----\nabc\n-----END-----");
    EXPECT_EQ(r.value()["NEXT"], "1");
}

TEST(config_dotenv, crlf_line_endings_and_a_byte_order_mark_are_ignored) {
    ringcast::core::result<variables> r = dotenv("\xEF\xBB\xBF"
                                                 "A=1\r\nB=\"two\"\r\n");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value(), (variables{{"A", "1"}, {"B", "two"}}));
}

TEST(config_dotenv, a_later_line_replaces_an_earlier_one) {
    EXPECT_EQ(dotenv("A=1\nA=2\n").value()["A"], "2");
}

TEST(config_dotenv, errors_name_the_line) {
    EXPECT_EQ(dotenv("A=1\n=2\n").error().message(), "line 2: expected a variable name (KEY=VALUE)");
    EXPECT_EQ(dotenv("A=1\nJUST_A_WORD\n").error().message(), "line 2: expected \"=\" after JUST_A_WORD");
    EXPECT_EQ(dotenv("A=1\nB=\"open\n\n").error().message(), "line 2: unterminated quoted value of B");
    EXPECT_EQ(dotenv("B='open").error().message(), "line 1: unterminated quoted value of B");
    EXPECT_EQ(dotenv("B=\"x\" y\n").error().message(),
              "line 1: unexpected text after the closing quote of B");
    EXPECT_FALSE(dotenv("B=\"x\" y\n").ok());
}

TEST(config_dotenv, reads_a_laravel_env_file) {
    ringcast::core::result<variables> r = dotenv(R"(APP_NAME=Laravel
APP_KEY=base64:abc+/=
BROADCAST_CONNECTION=reverb

REVERB_APP_ID=284913
REVERB_APP_KEY=qvdmbrvswyfh0r9nbcjq
REVERB_APP_SECRET=w8xqg5arnm0kdbrbsfuy
REVERB_HOST="localhost"
REVERB_PORT=8080
REVERB_SCHEME=http

VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"
VITE_REVERB_HOST="${REVERB_HOST}"
)");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r.value()["APP_KEY"], "base64:abc+/=");
    EXPECT_EQ(r.value()["REVERB_APP_ID"], "284913");
    EXPECT_EQ(r.value()["REVERB_HOST"], "localhost");
    EXPECT_EQ(r.value()["VITE_REVERB_APP_KEY"], "qvdmbrvswyfh0r9nbcjq");
    EXPECT_EQ(r.value()["VITE_REVERB_HOST"], "localhost");
}
