// A log-linear latency histogram: fixed memory, O(1) record, mergeable across receiver threads.
// Each power of two is split into 128 buckets, so any reported value is within 0.8% of the truth.
#pragma once

#include <cstdint>
#include <vector>

namespace ringcast::bench {

class histogram {
public:
    histogram();

    void record(std::uint64_t value) noexcept {
        ++counts_[index_of(value)];
        ++count_;
        if (value > max_) {
            max_ = value;
        }
        if (value < min_) {
            min_ = value;
        }
    }
    void merge(const histogram& other) noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return count_ == 0 ? 0 : max_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    // The smallest recorded value v such that a fraction q (0..1) of all values are <= v (the bucket's
    // upper edge, clamped to the exact maximum).
    [[nodiscard]] std::uint64_t quantile(double q) const noexcept;

private:
    static constexpr unsigned sub_bits = 7;
    static constexpr std::uint64_t sub_count = 1ULL << sub_bits;
    // 2^41 ns is 36 minutes: nothing a bounded run records is longer.
    static constexpr unsigned max_exponent = 41;
    static constexpr std::size_t bucket_count = sub_count + (max_exponent - sub_bits + 1) * sub_count;

    [[nodiscard]] static std::size_t index_of(std::uint64_t value) noexcept;
    [[nodiscard]] static std::uint64_t upper_edge(std::size_t index) noexcept;

    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = UINT64_MAX;
};

} // namespace ringcast::bench
