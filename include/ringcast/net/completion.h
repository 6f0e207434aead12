// The layout of io_uring `user_data`: every SQE we submit carries {op, generation, slot}, so a
// completion that arrives after its connection was closed (and the slot reused) is recognised by
// the generation mismatch and dropped instead of touching the new connection.
#pragma once

#include <cstdint>

namespace ringcast::net {

enum class op : std::uint8_t {
    none = 0,
    accept,  // multishot accept on the shard's listener
    recv,    // multishot recv into the provided-buffer ring
    send,    // one vectored send of a connection's queued frames
    tick,    // the shard's periodic timeout (timer wheel)
    wake,    // IORING_OP_MSG_RING from another shard: mail is waiting
    stop,    // IORING_OP_MSG_RING from the main thread: shut down
    control, // IORING_OP_MSG_RING from the main thread: control mail is queued (e.g. a reload)

    msg_ring, // our own MSG_RING submissions (normally skipped via CQE_SKIP_SUCCESS)
};

struct tag {
    op kind = op::none;
    std::uint32_t generation = 0; // low 24 bits used
    std::uint32_t slot = 0;
};

// [63..56] op, [55..32] generation (24 bits, wraps harmlessly), [31..0] slot.
constexpr std::uint64_t encode(tag t) noexcept {
    return (static_cast<std::uint64_t>(t.kind) << 56) |
           (static_cast<std::uint64_t>(t.generation & 0xffffffu) << 32) | t.slot;
}

constexpr tag decode(std::uint64_t user_data) noexcept {
    return tag{static_cast<op>(user_data >> 56), static_cast<std::uint32_t>((user_data >> 32) & 0xffffffu),
               static_cast<std::uint32_t>(user_data & 0xffffffffu)};
}

constexpr std::uint32_t generation_mask = 0xffffffu;

} // namespace ringcast::net
