// Which channel each bench connection subscribes to and which connections each event must reach.
// `fanout`: everybody on one channel. `channels`: connection j on channel "<name>-j", and event s
// goes to the group of `per_event` consecutive connections numbered s mod groups(). `presence`,
// `whisper` and `soak` (shared_by_group): the `per_event` connections of group g share channel
// "<name>-g".
#pragma once

#include <cstdint>
#include <string>

namespace ringcast::bench {

struct layout {
    std::string channel = "bench";
    bool per_connection = false;
    std::uint32_t connections = 0;
    std::uint32_t per_event = 1;
    bool shared_by_group = false; // with per_connection: one channel per group, not per connection
    // A second channel every connection subscribes to once its first one has succeeded (soak:
    // the presence channel for the stable clients, a public one for the churners). A presence
    // channel is signed with channel_data naming the connection. Empty: none.
    std::string also_channel;

    [[nodiscard]] std::uint32_t groups() const noexcept {
        return per_connection ? (connections + per_event - 1) / per_event : 1;
    }
    [[nodiscard]] std::uint32_t group_of_connection(std::uint32_t conn) const noexcept {
        return per_connection ? conn / per_event : 0;
    }
    [[nodiscard]] std::uint32_t group_of_event(std::uint64_t seq) const noexcept {
        return static_cast<std::uint32_t>(seq % groups());
    }
    [[nodiscard]] std::string channel_of(std::uint32_t conn) const {
        if (!per_connection) {
            return channel;
        }
        return channel + "-" + std::to_string(shared_by_group ? group_of_connection(conn) : conn);
    }
    // The connection's place in its group (0 .. per_event-1).
    [[nodiscard]] std::uint32_t slot_of(std::uint32_t conn) const noexcept {
        return per_connection ? conn % per_event : conn;
    }
    // Private and presence channels need a signed auth in pusher:subscribe (spec §1.8).
    [[nodiscard]] bool needs_auth() const noexcept {
        return channel.starts_with("private-") || channel.starts_with("presence-");
    }
};

} // namespace ringcast::bench
