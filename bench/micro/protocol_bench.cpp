// Per-operation costs on the hot paths: frame encoding, inbound parsing, signatures, queues.
#include "ringcast/api/events.h"
#include "ringcast/api/signature.h"
#include "ringcast/core/crypto.h"
#include "ringcast/net/write_queue.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/shard/spsc_queue.h"
#include "ringcast/ws/decoder.h"

#include <benchmark/benchmark.h>

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
        api::event_request ev;
        benchmark::DoNotOptimize(api::parse_event(json, body, app, ev));
    }
}
BENCHMARK(rest_event_parse);

static void rest_signature_check(benchmark::State& state) {
    config::app app;
    app.id = "3";
    app.key = "278d425bdf160c739803";
    app.secret = "7ad3773142a6692b25b8";
    api::params q = {{"auth_key", "278d425bdf160c739803"},
                     {"auth_timestamp", "1353088179"},
                     {"auth_version", "1.0"},
                     {"body_md5", "ec365a775a4cd0599faeb73354201b6f"},
                     {"auth_signature", "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"}};
    std::string body = R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})";
    for (auto _ : state) {
        benchmark::DoNotOptimize(api::verify(app, "POST", "/apps/3/events", "", q, body, 1353088179));
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

static void hmac_private_channel_auth(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(core::hmac_sha256_hex("7ad3773142a6692b25b8", "1234.1234:private-foobar"));
    }
}
BENCHMARK(hmac_private_channel_auth);

BENCHMARK_MAIN();
