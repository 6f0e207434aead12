// Metrics that one thread counts and another reads: counters and gauges with a single writer,
// a fixed-bucket histogram, and the Prometheus text format they are scraped in.
//
// Each thread (a shard, the webhook thread, the Redis bridge) owns its own counters, so an
// increment is a relaxed load and a relaxed store of the owner's own value: a plain add, with
// no lock prefix and no cache line shared with another writer. The scraper reads with relaxed
// loads. That is data-race free (TSan agrees), and a scrape sees each value a few increments
// old at worst, never torn. Nothing is ordered by these values, so relaxed is all they need.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ringcast::core {

// Only the owning thread may call add/sub/set; any thread may call get.
class counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    // For gauges (a value that goes down too): the owner never takes below zero.
    void sub(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    void set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// A histogram of durations over fixed bucket bounds (seconds), Prometheus-style (each bucket
// counts observations <= its bound; the scrape makes them cumulative). Single writer.
class histogram {
public:
    // Request latencies, from 100 µs to 10 s.
    static constexpr double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    static constexpr std::size_t buckets = std::size(bounds);

    void observe_ns(std::uint64_t ns) noexcept {
        double s = static_cast<double>(ns) / 1e9;
        std::size_t i = 0;
        while (i < buckets && s > bounds[i]) {
            ++i;
        }
        counts_[i].add(); // counts_[buckets] is +Inf
        sum_ns_.add(ns);
    }
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i].get(); }
    [[nodiscard]] std::uint64_t sum_ns() const noexcept { return sum_ns_.get(); }

private:
    counter counts_[buckets + 1];
    counter sum_ns_;
};

// Builds a scrape's text: "# HELP" and "# TYPE" once per family, then its samples.
class prometheus_text {
public:
    using label = std::pair<std::string_view, std::string_view>;

    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, std::initializer_list<label> labels, std::uint64_t value);
    void sample(std::string_view name, std::initializer_list<label> labels, double value);
    // A whole histogram: its _bucket series (cumulative, with le), _sum (seconds) and _count.
    void histogram_samples(std::string_view name, std::initializer_list<label> labels, const histogram& h);
    // The same from counts already summed across threads (buckets+1 entries, the last +Inf).
    void histogram_samples(std::string_view name, std::initializer_list<label> labels,
                           std::span<const std::uint64_t> counts, std::uint64_t sum_ns);

    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    void series(std::string_view name, std::span<const label> labels, std::string_view extra_name = {},
                std::string_view extra_value = {});

    std::string out_;
};

} // namespace ringcast::core
