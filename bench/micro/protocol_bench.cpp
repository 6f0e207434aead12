// Per-operation costs on the hot paths: frame encoding, inbound parsing, signatures, queues.
#include "ringcast/api/events.h"
#include "ringcast/auth/signature.h"
#include "ringcast/core/crypto.h"
#include "ringcast/net/write_queue.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/shard/spsc_queue.h"
#include "ringcast/ws/decoder.h"

#include <benchmark/benchmark.h>

#include <random>
#include <string>

using namespace ringcast;

static void frame_encode_64b_event(benchmark::State& state) {
    std::string data(64, 'x');
    for (auto _ : state) {
        benchmark::DoNotOptimize(pusher::channel_event("App\\Events\\OrderShipped", "orders", data));
    }
}
BENCHMARK(frame_encode_64b_event);

static void rest_event_parse(benchmark::State& state) {
    simdjson::dom::parser json;
    config::app app;
    std::string body =
        R"({"name":"App\\Events\\OrderShipped","channels":["orders"],"data":"{\"id\":1234,\"status\":\"shipped\"}","socket_id":"123.456"})";
    for (auto _ : state) {
        benchmark::DoNotOptimize(api::parse_event(json, body, app));
    }
}
BENCHMARK(rest_event_parse);

static void rest_signature_check(benchmark::State& state) {
    auth::app_credentials app{"3", "278d425bdf160c739803", "7ad3773142a6692b25b8"};
    auth::params q = {{"auth_key", "278d425bdf160c739803"},
                      {"auth_timestamp", "1353088179"},
                      {"auth_version", "1.0"},
                      {"body_md5", "ec365a775a4cd0599faeb73354201b6f"},
                      {"auth_signature", "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"}};
    std::string body = R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})";
    for (auto _ : state) {
        benchmark::DoNotOptimize(auth::verify(app, "POST", "/apps/3/events", "", q, body, 1353088179));
    }
}
BENCHMARK(rest_signature_check);

namespace {
struct null_sink : ws::message_sink {
    size_t n = 0;
    void on_text(std::string_view m) override { n += m.size(); }
    void on_control_bytes(std::string_view) override {}
};
} // namespace

static void ws_decode_small_message(benchmark::State& state) {
    std::string payload = R"({"event":"pusher:ping","data":{}})";
    std::string f;
    f.push_back(static_cast<char>(0x81));
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append("\0\0\0\0", 4); // zero mask: payload bytes unchanged
    f += payload;
    ws::decoder d(10000);
    null_sink sink;
    for (auto _ : state) {
        benchmark::DoNotOptimize(d.feed(f, sink));
    }
}
BENCHMARK(ws_decode_small_message);

static void spsc_push_pop(benchmark::State& state) {
    shard::spsc_queue<int> q(1024);
    int v = 0;
    for (auto _ : state) {
        (void)q.push(&v);
        benchmark::DoNotOptimize(q.pop());
    }
}
BENCHMARK(spsc_push_pop);

// Fan-out without I/O: queue one shared frame on N write queues (what a shard does per publish).
static void fanout_queue_shared_frame(benchmark::State& state) {
    auto n = static_cast<size_t>(state.range(0));
    std::vector<net::write_queue> queues(n);
    net::frame_ref f = pusher::channel_event("e", "ch", std::string(64, 'x'));
    for (auto _ : state) {
        for (auto& q : queues) {
            q.push(f);
        }
        for (auto& q : queues) {
            q.consume(f->size());
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(fanout_queue_shared_frame)->Arg(100)->Arg(10000);

// What a session does with each client message: parse the JSON envelope (simdjson DOM, as in
// session::on_text) and read the event name and its data fields.
static void client_envelope_parse(benchmark::State& state) {
    simdjson::dom::parser json;
    std::string message = R"({"event":"pusher:subscribe","data":{"auth":"278d425bdf160c739803:)"
                          R"(58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4",)"
                          R"("channel":"private-orders.1234"}})";
    for (auto _ : state) {
        simdjson::dom::element root;
        std::string_view event, channel, auth;
        if (json.parse(message.data(), message.size()).get(root) || root["event"].get_string().get(event) ||
            root["data"]["channel"].get_string().get(channel) ||
            root["data"]["auth"].get_string().get(auth)) {
            state.SkipWithError("the envelope did not parse");
            break;
        }
        benchmark::DoNotOptimize(channel.size() + auth.size() + event.size());
    }
}
BENCHMARK(client_envelope_parse);

// Finding a channel's local subscribers by name among N channels (every publish and subscribe).
static void channel_lookup(benchmark::State& state) {
    auto n = static_cast<size_t>(state.range(0));
    pusher::channel_map channels;
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) {
        names.push_back("private-App.Models.User." + std::to_string(i));
        channels.emplace(names.back(), pusher::local_channel{names.back(), 0, {}});
    }
    std::mt19937 pick(42);
    std::vector<std::string_view> lookups;
    for (size_t i = 0; i < 1024; ++i) {
        lookups.push_back(names[pick() % n]);
    }
    for (auto _ : state) {
        for (std::string_view name : lookups) {
            benchmark::DoNotOptimize(channels.find(name));
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lookups.size()));
}
BENCHMARK(channel_lookup)->Arg(100)->Arg(100000);

static void hmac_private_channel_auth(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(core::hmac_sha256_hex("7ad3773142a6692b25b8", "1234.1234:private-foobar"));
    }
}
BENCHMARK(hmac_private_channel_auth);

BENCHMARK_MAIN();
