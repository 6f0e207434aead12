// The logger's options: least level, JSON lines, the per-call-site flood limit, the debug filter.
#include "ringcast/core/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <unistd.h>

namespace ringcast::core {
namespace {

// Captures what the logger writes to stderr while it lives.
class captured_stderr {
public:
    captured_stderr() {
        std::fflush(stderr);
        file_ = std::tmpfile();
        saved_ = ::dup(STDERR_FILENO);
        ::dup2(::fileno(file_), STDERR_FILENO);
    }
    ~captured_stderr() {
        restore();
        std::fclose(file_);
    }
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buf[4096];
        while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) {
            out.append(buf, n);
        }
        return out;
    }

private:
    void restore() {
        if (saved_ >= 0) {
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
            saved_ = -1;
        }
    }
    std::FILE* file_;
    int saved_;
};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

class log_test : public ::testing::Test {
protected:
    void TearDown() override { set_log_options(log_level::info, log_format::text); }
};

TEST_F(log_test, lines_below_the_least_level_are_not_printed) {
    set_log_options(log_level::warn, log_format::text);
    captured_stderr err;
    RC_LOG_INFO("an info line %d", 1);
    RC_LOG_WARN("a warning %d", 2);
    std::string text = err.text();
    EXPECT_EQ(text.find("an info line"), std::string::npos);
    EXPECT_NE(text.find("warn  [main] a warning 2\n"), std::string::npos) << text;
}

TEST_F(log_test, json_lines_are_one_object_each_with_the_message_escaped) {
    set_log_options(log_level::info, log_format::json);
    captured_stderr err;
    RC_LOG_ERROR("quote \" and backslash \\ in %s", "a message");
    std::string text = err.text();
    EXPECT_EQ(text.rfind("{\"time\":\"", 0), 0U) << text;
    EXPECT_NE(
        text.find("\"level\":\"error\",\"thread\":\"main\",\"message\":\"quote \\\" and backslash \\\\ in a "
                  "message\"}\n"),
        std::string::npos)
        << text;
    EXPECT_EQ(count_of(text, "\n"), 1U);
}

TEST_F(log_test, a_flooding_call_site_is_limited_and_its_count_reported_later) {
    captured_stderr err;
    for (int i = 0; i < 100; ++i) {
        RC_LOG_WARN("flood line %d", i);
        RC_LOG_WARN("another site %d", i);
    }
    std::string text = err.text();
    EXPECT_EQ(count_of(text, "flood line"), burst_lines);
    EXPECT_EQ(count_of(text, "another site"), burst_lines); // each call site has its own budget
    EXPECT_NE(text.find("flood line 19\n"), std::string::npos);
    EXPECT_EQ(text.find("flood line 20"), std::string::npos);
}

TEST_F(log_test, debug_filter_by_app_and_channel_prefix) {
    set_debug_filter({});
    EXPECT_TRUE(debug_shows("any", "{}"));
    set_debug_filter({"app-1", ""});
    EXPECT_TRUE(debug_shows("app-1", "{}"));
    EXPECT_FALSE(debug_shows("app-2", "{}"));
    set_debug_filter({"", "private-orders."});
    EXPECT_TRUE(debug_shows("x", R"({"event":"e","channel":"private-orders.7","data":"{}"})"));
    EXPECT_TRUE(debug_shows(
        "x", R"({"event":"pusher:subscribe","data":{"auth":"k:s","channel":"private-orders.1"}})"));
    EXPECT_FALSE(debug_shows("x", R"({"event":"e","channel":"private-users.7","data":"{}"})"));
    EXPECT_FALSE(debug_shows("x", R"({"event":"pusher:ping","data":{}})"));
    set_debug_filter({});
}

} // namespace
} // namespace ringcast::core
