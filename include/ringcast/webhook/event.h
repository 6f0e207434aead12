// Webhooks, part 1: what the Pusher layer reports. The owner shard of a channel reports its
// occupancy and membership changes, in the order they happen; the sender's shard reports client
// events. Each report is one `event` handed to a `sink`, which the webhook dispatcher
// (dispatcher.h) implements: it de-bounces, filters, batches, signs, sends and retries, on its
// own thread, so no shard ever waits on a webhook target.
#pragma once

#include "ringcast/config/config.h"

#include <cstdint>
#include <string>

namespace ringcast::webhook {

struct event {
    config::webhook_kind kind = config::webhook_kind::channel_occupied;
    std::uint32_t app = 0; // index into config::server::apps
    std::string channel;
    std::string user_id;   // member_added/removed; client_event on a presence channel
    std::string name;      // client_event: the client-* event's name
    std::string data;      // client_event: the data as a string (JSON text when it was not one)
    std::string socket_id; // client_event: the sender
    std::uint32_t subscription_count = 0;
    // Decided by the cluster's shared state, which de-bounces it there (across nodes): sent
    // without being held or cancelling anything here.
    bool settled = false;
};

// Appends the event as Pusher's webhook JSON object ({"name":"member_added","channel":...}).
void append_json(std::string& out, const event& ev);

// Where events go. emit() is called from any shard thread and never blocks on I/O.
class sink {
public:
    virtual ~sink() = default;
    virtual void emit(event ev) = 0;
};

} // namespace ringcast::webhook
