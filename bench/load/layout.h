// Which channel each bench connection subscribes to and which connections each event must reach.
// `fanout`: everybody on one channel. `channels`: connection j on channel "<name>-j", and event s
// goes to the group of `per_event` consecutive connections numbered s mod groups().
#pragma once

#include <cstdint>
#include <string>

namespace ringcast::bench {

struct layout {
    std::string channel = "bench";
    bool per_connection = false;
    std::uint32_t connections = 0;
    std::uint32_t per_event = 1;

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
        return per_connection ? channel + "-" + std::to_string(conn) : channel;
    }
};

} // namespace ringcast::bench
