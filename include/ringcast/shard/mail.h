// A message from one shard to another, carried by the shard_group's SPSC queues. The shard
// only moves it; upper layers derive their own kinds (see pusher/mail.h).
#pragma once

namespace ringcast::shard {

struct mail {
    virtual ~mail() = default;
};

} // namespace ringcast::shard
