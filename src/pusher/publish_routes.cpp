// The bookkeeping behind skipping shards without subscribers (see publish_routes.h).
#include "ringcast/pusher/publish_routes.h"

namespace ringcast::pusher {

namespace {
std::uint64_t bit(unsigned shard) {
    return std::uint64_t{1} << shard;
}
} // namespace

std::uint64_t publish_routes::skipped(std::uint32_t app, std::string_view channel) const {
    if (app >= skips_.size() || skips_[app].empty()) {
        return 0;
    }
    auto it = skips_[app].find(channel);
    return it == skips_[app].end() ? 0 : it->second;
}

void publish_routes::set_bit(std::vector<masks>& by_app, std::size_t& entries, std::uint32_t app,
                             std::string_view channel, unsigned shard) {
    if (app >= by_app.size()) {
        by_app.resize(app + 1);
    }
    auto it = by_app[app].find(channel);
    if (it == by_app[app].end()) {
        it = by_app[app].emplace(std::string(channel), 0).first;
        ++entries;
    }
    it->second |= bit(shard);
}

void publish_routes::skip(std::uint32_t app, std::string_view channel, unsigned shard) {
    if (shard >= max_shards) {
        return;
    }
    if (skip_entries_ >= max_entries) {
        // Forgetting costs only mail that is answered "none" again.
        skips_.clear();
        skip_entries_ = 0;
    }
    set_bit(skips_, skip_entries_, app, channel, shard);
}

void publish_routes::unskip(std::uint32_t app, std::string_view channel, unsigned shard) {
    if (app >= skips_.size() || shard >= max_shards) {
        return;
    }
    auto it = skips_[app].find(channel);
    if (it == skips_[app].end()) {
        return;
    }
    it->second &= ~bit(shard);
    if (it->second == 0) {
        skips_[app].erase(it);
        --skip_entries_;
    }
}

void publish_routes::forget_skips(unsigned shard) {
    if (shard >= max_shards) {
        return;
    }
    for (auto& m : skips_) {
        for (auto it = m.begin(); it != m.end();) {
            it->second &= ~bit(shard);
            if (it->second == 0) {
                it = m.erase(it);
                --skip_entries_;
            } else {
                ++it;
            }
        }
    }
}

bool publish_routes::disclaim(std::uint32_t app, std::string_view channel, unsigned publisher) {
    if (publisher >= max_shards || disclaim_entries_ >= max_entries) {
        return false;
    }
    set_bit(disclaims_, disclaim_entries_, app, channel, publisher);
    return true;
}

std::uint64_t publish_routes::take_disclaims(std::uint32_t app, std::string_view channel) {
    if (app >= disclaims_.size() || disclaims_[app].empty()) {
        return 0;
    }
    auto it = disclaims_[app].find(channel);
    if (it == disclaims_[app].end()) {
        return 0;
    }
    std::uint64_t told = it->second;
    disclaims_[app].erase(it);
    --disclaim_entries_;
    return told;
}

void publish_routes::forget_disclaims() {
    disclaims_.clear();
    disclaim_entries_ = 0;
}

} // namespace ringcast::pusher
