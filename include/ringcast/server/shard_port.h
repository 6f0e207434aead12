// The Pusher layer's port (pusher/port.h) over a real shard: connection ids are looked up in
// the shard's slots (a stale one finds nothing), mail goes through the shard_group's queues.
#pragma once

#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/port.h"
#include "ringcast/shard/shard.h"

namespace ringcast::server {

class shard_port final : public pusher::port {
public:
    explicit shard_port(shard::shard& s) : shard_(s) {}

    void send(shard::conn_id id, net::frame_ref f) override {
        if (shard::conn* c = shard_.find(id)) {
            shard_.send(*c, std::move(f));
        }
    }
    void send_to_each(std::span<const pusher::local_member> members, const pusher::session* except,
                      const net::frame_ref& f) override {
        for (const pusher::local_member& m : members) {
            if (m.s != except) {
                if (shard::conn* c = shard_.find(m.conn)) {
                    shard_.send(*c, f);
                }
            }
        }
    }
    void close_gracefully(shard::conn_id id) override {
        if (shard::conn* c = shard_.find(id)) {
            shard_.close_gracefully(*c);
        }
    }
    void close(shard::conn_id id) override {
        if (shard::conn* c = shard_.find(id)) {
            shard_.close(*c);
        }
    }
    void set_timer(shard::conn_id id, std::uint64_t due_ms) override {
        if (shard::conn* c = shard_.find(id)) {
            shard_.set_timer(*c, due_ms);
        }
    }
    void post(unsigned target, std::unique_ptr<pusher::mail> m) override {
        shard_.post(target, std::move(m));
    }
    void drain_mail() override { shard_.drain_mail(); }
    std::uint64_t now_ms() const noexcept override { return shard_.now_ms(); }
    unsigned index() const noexcept override { return shard_.index(); }
    unsigned count() const noexcept override { return shard_.count(); }
    int bridge() const noexcept override { return shard_.bridge(); }

private:
    shard::shard& shard_;
};

} // namespace ringcast::server
