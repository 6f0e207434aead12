// The Redis client's parser against hiredis's (when libhiredis-dev is installed): what a node's
// bridge does with every pub/sub message, parse one ["message", channel, payload] push of an
// event-sized payload, and one HGETALL-sized reply (a presence channel of 100 members). The
// figures back the README's choice of our own RESP client (Scaling over Redis).
#include "ringcast/redis/resp.h"

#include <benchmark/benchmark.h>

#if RINGCAST_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include <string>
#include <vector>

namespace {

std::string bulk(const std::string& s) {
    return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// `count` pub/sub messages, each with a payload of `bytes`, back to back as Redis sends them.
std::string messages(int count, std::size_t bytes) {
    std::string one = "*3\r\n" + bulk("message") + bulk("reverb:broadcast") + bulk(std::string(bytes, 'x'));
    std::string out;
    for (int i = 0; i < count; ++i) {
        out += one;
    }
    return out;
}

// An HGETALL of `members` presence members (user id, user_info JSON).
std::string hgetall(int members) {
    std::string out = "*" + std::to_string(2 * members) + "\r\n";
    for (int i = 0; i < members; ++i) {
        out += bulk("user-" + std::to_string(i)) + bulk(R"({"name":"User )" + std::to_string(i) + R"("})");
    }
    return out;
}

void ours(benchmark::State& state, const std::string& input, int values) {
    for (auto _ : state) {
        std::string_view rest(input);
        for (int i = 0; i < values; ++i) {
            ringcast::redis::value v;
            auto r = ringcast::redis::parse(rest, v);
            rest.remove_prefix(r.consumed);
            benchmark::DoNotOptimize(v);
        }
    }
    state.SetItemsProcessed(state.iterations() * values);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}

#if RINGCAST_HAVE_HIREDIS
void theirs(benchmark::State& state, const std::string& input, int values) {
    for (auto _ : state) {
        redisReader* reader = redisReaderCreate();
        redisReaderFeed(reader, input.data(), input.size());
        for (int i = 0; i < values; ++i) {
            void* reply = nullptr;
            redisReaderGetReply(reader, &reply);
            benchmark::DoNotOptimize(reply);
            freeReplyObject(reply);
        }
        redisReaderFree(reader);
    }
    state.SetItemsProcessed(state.iterations() * values);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}
#endif

const std::string pubsub_100 = messages(100, 380);
const std::string presence_100 = hgetall(100);

void resp_pubsub_message_ours(benchmark::State& state) {
    ours(state, pubsub_100, 100);
}
BENCHMARK(resp_pubsub_message_ours);

void resp_hgetall_100_members_ours(benchmark::State& state) {
    ours(state, presence_100, 1);
}
BENCHMARK(resp_hgetall_100_members_ours);

#if RINGCAST_HAVE_HIREDIS
void resp_pubsub_message_hiredis(benchmark::State& state) {
    theirs(state, pubsub_100, 100);
}
BENCHMARK(resp_pubsub_message_hiredis);

void resp_hgetall_100_members_hiredis(benchmark::State& state) {
    theirs(state, presence_100, 1);
}
BENCHMARK(resp_hgetall_100_members_hiredis);
#endif

} // namespace
