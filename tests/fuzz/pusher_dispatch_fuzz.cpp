// libFuzzer target: the Pusher message dispatcher (pusher::session and context) over three fake
// shards in one thread (tests/support/fake_shards.h), with up to eight clients on two apps. The
// input is a script of steps separated by '\n'; the first byte of a step picks the action (high
// nibble) and the client (low nibble), the rest is its argument:
//
//   0-4  the client says the rest (the text of one message: JSON or not)
//   5    signed pusher:subscribe to the channel in the rest (channel_data after a '|')
//   6    signed pusher:signin with the rest as user_data
//   7    the rest as one masked text frame          8  the rest as raw socket bytes
//   9    deliver one mail (rest[0]: from, to)       10 deliver all mail
//   11   deliver all in a seeded random order       12 advance the clock (rest[0] * 250 ms)
//   13   the client disconnects                     14 a new connection in the slot (rest[0]: app)
//   15   an HTTP API publish (channel '|' data) or query (rest[0]: which)
//
// Everything still queued is delivered at the end. The fake shards check nothing themselves;
// what matters is that no input crashes, leaks, trips ASan/UBSan or makes mail loop forever.
#include "fake_shards.h"

#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/query.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace ringcast;
using testing::fake_client;
using testing::fake_cluster;

namespace {

constexpr unsigned shards = 3;
constexpr std::size_t slots = 8;
constexpr std::size_t max_steps = 256;

config::server make_settings() {
    config::server s;
    // App 0: Pusher's rules with small limits, so that inputs reach them.
    config::app a;
    a.id = "app-id";
    a.key = "app-key";
    a.secret = "app-secret";
    a.ping_interval_s = 10;
    a.pong_timeout_s = 5;
    a.max_message_size = 2048;
    a.max_event_name_length = 40;
    a.max_channel_name_length = 64;
    a.max_client_events_per_second = 4;
    a.max_presence_members = 3;
    a.max_presence_member_size = 128;
    a.max_presence_user_id_length = 16;
    a.watchlist_limit = 3;
    a.cache_ttl_s = 30;
    a.subscription_count = true;
    s.apps.push_back(a);
    // App 1: Reverb's knobs (rate limiting, client events from anyone) and authorized connections.
    config::app b = a;
    b.id = "app2";
    b.key = "key2";
    b.secret = "secret2";
    b.accept_client_events_from = config::client_events_from::all;
    b.rate_limiting_enabled = true;
    b.rate_limit_max_attempts = 12;
    b.rate_limit_decay_s = 2;
    b.rate_limit_terminate = true;
    b.authorized_connections_timeout_s = 4;
    b.max_connections = 5;
    b.subscription_count = false;
    s.apps.push_back(b);
    return s;
}

struct world {
    fake_cluster cluster{shards, make_settings()};
    std::vector<std::optional<fake_client>> clients = std::vector<std::optional<fake_client>>(slots);

    world() {
        for (std::size_t i = 0; i < 4; ++i) {
            clients[i] = cluster.connect(static_cast<unsigned>(i % shards), 0);
        }
    }

    void step(unsigned op, std::size_t slot, std::string_view rest) {
        std::optional<fake_client>& c = clients[slot];
        unsigned arg = rest.empty() ? 0 : static_cast<unsigned char>(rest[0]);
        switch (op) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
            if (c) {
                c->say(rest);
            }
            return;
        case 5:
            if (c) {
                auto bar = rest.find('|');
                c->subscribe(rest.substr(0, bar),
                             bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1));
            }
            return;
        case 6:
            if (c) {
                c->signin(rest);
            }
            return;
        case 7:
            if (c) {
                c->feed(testing::client_text_frame(rest));
            }
            return;
        case 8:
            if (c) {
                c->feed(rest);
            }
            return;
        case 9:
            cluster.deliver_one(arg % shards, (arg / shards) % shards);
            return;
        case 10:
            cluster.deliver_all();
            return;
        case 11:
            cluster.deliver_shuffled(arg);
            return;
        case 12:
            cluster.advance(static_cast<std::uint64_t>(arg) * 250);
            return;
        case 13:
            if (c) {
                c->disconnect();
            }
            return;
        case 14:
            if (c) {
                c->disconnect();
            }
            c = cluster.connect(static_cast<unsigned>(slot % shards), arg & 1);
            return;
        case 15:
            api(static_cast<unsigned>(slot % shards), arg, rest.empty() ? rest : rest.substr(1));
            return;
        default:
            return;
        }
    }

    // What the HTTP API does to the Pusher layer: publish (cache channels remembered), or ask.
    void api(unsigned shard, unsigned which, std::string_view rest) {
        auto bar = rest.find('|');
        std::string channel(rest.substr(0, bar));
        std::string data(bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1));
        std::uint32_t app = (which >> 7) & 1;
        switch (which % 6) {
        case 0:
        case 1: {
            if (!pusher::check_channel_name(channel, cluster.app(app).max_channel_name_length).ok()) {
                return; // the API refuses such names before publishing
            }
            net::frame_ref frame = pusher::channel_event("api-event", channel, data);
            pusher::context& ctx = cluster.context(shard);
            if (pusher::is_cache(pusher::kind_of(channel))) {
                ctx.remember_last_event(app, channel, frame, data);
            }
            ctx.publish(app, channel, frame, 0);
            return;
        }
        case 2:
            if (!channel.empty()) {
                cluster.ask(shard, pusher::query_kind::channels, app, {channel}, false);
            }
            return;
        case 3:
            if (!channel.empty()) {
                cluster.ask(shard, pusher::query_kind::members, app, {channel}, false);
            }
            return;
        case 4:
            cluster.ask(shard, pusher::query_kind::connections, app, {}, true);
            return;
        case 5:
            cluster.ask(shard, pusher::query_kind::terminate_user, app, {channel}, true);
            return;
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    world w;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    for (std::size_t n = 0; n < max_steps && !input.empty(); ++n) {
        auto end = input.find('\n');
        std::string_view record = input.substr(0, end);
        input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
        if (record.empty()) {
            continue;
        }
        auto head = static_cast<unsigned char>(record[0]);
        w.step(head >> 4, (head & 0x0f) % slots, record.substr(1));
    }
    w.cluster.deliver_all();
    return 0;
}
