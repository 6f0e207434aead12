#include "ringcast/core/metrics.h"

#include <gtest/gtest.h>

#include <string>

using ringcast::core::counter;
using ringcast::core::histogram;
using ringcast::core::prometheus_text;

TEST(metrics, a_counter_adds_and_a_gauge_goes_down_too) {
    counter c;
    c.add();
    c.add(41);
    EXPECT_EQ(c.get(), 42u);
    c.sub(2);
    EXPECT_EQ(c.get(), 40u);
    c.set(7);
    EXPECT_EQ(c.get(), 7u);
}

TEST(metrics, a_family_has_help_and_type_before_its_samples) {
    prometheus_text t;
    t.family("x_total", "counter", "Things.");
    t.sample("x_total", {}, std::uint64_t{3});
    t.sample("x_total", {{"app_id", "1"}, {"type", "public"}}, std::uint64_t{4});
    EXPECT_EQ(t.take(), "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
                        "x_total{app_id=\"1\",type=\"public\"} 4\n");
}

TEST(metrics, label_values_are_escaped) {
    prometheus_text t;
    t.sample("x", {{"app_id", "a\"b\\c\nd"}}, std::uint64_t{1});
    EXPECT_EQ(t.take(), "x{app_id=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(metrics, a_histogram_is_cumulative_with_sum_in_seconds_and_count) {
    histogram h;
    h.observe_ns(50'000);         // 50 µs: the first bucket (100 µs)
    h.observe_ns(2'000'000);      // 2 ms: the 2.5 ms bucket
    h.observe_ns(60'000'000'000); // a minute: only +Inf
    prometheus_text t;
    t.histogram_samples("d_seconds", {{"endpoint", "events"}}, h);
    std::string out = t.take();
    EXPECT_NE(out.find("d_seconds_bucket{endpoint=\"events\",le=\"0.0001\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_bucket{endpoint=\"events\",le=\"0.001\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_bucket{endpoint=\"events\",le=\"0.0025\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_bucket{endpoint=\"events\",le=\"10\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_bucket{endpoint=\"events\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_sum{endpoint=\"events\"} 60.00205\n"), std::string::npos) << out;
    EXPECT_NE(out.find("d_seconds_count{endpoint=\"events\"} 3\n"), std::string::npos) << out;
}
