// What the layers above the shard hold to name a connection: its slot and the slot's
// generation, so a stale id (the connection has gone and the slot was reused) finds nothing.
// Kept apart from shard.h so protocol code can name connections without seeing io_uring.
#pragma once

#include <cstdint>

namespace ringcast::shard {

struct conn_id {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    friend bool operator==(conn_id, conn_id) = default;
};

} // namespace ringcast::shard
