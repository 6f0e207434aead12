// Which other shards a publish on this shard need not wake. A publish is mail to every other
// shard, which wakes a sleeping one even when it has no subscriber of the channel: with pairs of
// connections whispering at a low rate, that wake-up was most of what a client event cost.
//
// A shard that receives a publish for a channel it has no subscriber of answers "none here"
// (no_subscribers_mail) and remembers whom it told; the publisher then leaves it out. The first
// local subscriber takes that back (subscribers_again_mail) before its subscription_succeeded
// is queued. Queues are FIFO per pair of shards and a publish drains its mail first, so a
// publish that follows a subscription_succeeded reaches the new subscriber: the same guarantee
// as without the skipping.
//
// Both sides are bounded. The publisher may forget at any time (it only sends mail again); the
// shard that said "none" must never forget silently, so on overflow it tells every publisher to
// forget everything it said (disclaims_reset_mail) and starts over.
#pragma once

#include "ringcast/pusher/string_hash.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringcast::pusher {

class publish_routes {
public:
    // Entries each side keeps before starting over (a few MB at most per shard).
    static constexpr std::size_t max_entries = 16384;
    // Masks are 64 bits wide; with more shards nothing is skipped.
    static constexpr unsigned max_shards = 64;

    // Publisher side: the shards (bit per index) that said they have no subscriber.
    [[nodiscard]] std::uint64_t skipped(std::uint32_t app, std::string_view channel) const;
    void skip(std::uint32_t app, std::string_view channel, unsigned shard);
    void unskip(std::uint32_t app, std::string_view channel, unsigned shard);
    void forget_skips(unsigned shard);

    // Subscriber side. Remembers that `publisher` was told "none here"; false when the table is
    // full: the caller resets every publisher (forget_disclaims) instead of answering.
    [[nodiscard]] bool disclaim(std::uint32_t app, std::string_view channel, unsigned publisher);
    // The first local subscriber arrived: the publishers to tell (then forgotten here).
    [[nodiscard]] std::uint64_t take_disclaims(std::uint32_t app, std::string_view channel);
    void forget_disclaims();

private:
    using masks = std::unordered_map<std::string, std::uint64_t, string_hash, std::equal_to<>>;

    static void set_bit(std::vector<masks>& by_app, std::size_t& entries, std::uint32_t app,
                        std::string_view channel, unsigned shard);

    std::vector<masks> skips_; // per app
    std::size_t skip_entries_ = 0;
    std::vector<masks> disclaims_; // per app
    std::size_t disclaim_entries_ = 0;
};

} // namespace ringcast::pusher
