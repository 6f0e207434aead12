// Bucket arithmetic for the log-linear histogram.
#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ringcast::bench {

histogram::histogram() : counts_(bucket_count, 0) {}

std::size_t histogram::index_of(std::uint64_t value) noexcept {
    if (value < sub_count) {
        return static_cast<std::size_t>(value);
    }
    unsigned exponent = static_cast<unsigned>(std::bit_width(value)) - 1;
    if (exponent > max_exponent) {
        return bucket_count - 1;
    }
    // The sub_bits bits after the leading one pick the linear bucket inside this power of two.
    std::uint64_t mantissa = (value >> (exponent - sub_bits)) - sub_count;
    return static_cast<std::size_t>(sub_count + (exponent - sub_bits) * sub_count + mantissa);
}

std::uint64_t histogram::upper_edge(std::size_t index) noexcept {
    if (index < sub_count) {
        return index;
    }
    std::size_t rest = index - sub_count;
    unsigned exponent = static_cast<unsigned>(rest / sub_count) + sub_bits;
    std::uint64_t mantissa = rest % sub_count;
    std::uint64_t low = (sub_count + mantissa) << (exponent - sub_bits);
    return low + (1ULL << (exponent - sub_bits)) - 1;
}

void histogram::merge(const histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) {
        counts_[i] += other.counts_[i];
    }
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
}

std::uint64_t histogram::quantile(double q) const noexcept {
    if (count_ == 0) {
        return 0;
    }
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::max<std::uint64_t>(rank, 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            return std::clamp(upper_edge(i), min_, max_);
        }
    }
    return max_;
}

} // namespace ringcast::bench
