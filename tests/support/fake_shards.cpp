// The fake shards of fake_shards.h.
#include "fake_shards.h"

#include "ringcast/core/crypto.h"
#include "ringcast/core/json_writer.h"

#include <algorithm>
#include <stdexcept>

namespace ringcast::testing {

// ---------------------------------------------------------------------------------------------
// WebSocket frames

void decode_server_frames(std::string_view bytes, std::vector<std::string>& texts,
                          std::optional<std::uint16_t>& close_code) {
    while (bytes.size() >= 2) {
        auto b0 = static_cast<unsigned char>(bytes[0]);
        auto b1 = static_cast<unsigned char>(bytes[1]);
        std::size_t len = b1 & 0x7f;
        std::size_t at = 2;
        if (len == 126) {
            len = (static_cast<unsigned char>(bytes[2]) << 8) | static_cast<unsigned char>(bytes[3]);
            at = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | static_cast<unsigned char>(bytes[2 + i]);
            }
            at = 10;
        }
        if (bytes.size() < at + len) {
            throw std::runtime_error("truncated server frame");
        }
        std::string_view payload = bytes.substr(at, len);
        unsigned opcode = b0 & 0x0f;
        if (opcode == 0x1) {
            texts.emplace_back(payload);
        } else if (opcode == 0x8 && payload.size() >= 2) {
            close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                    static_cast<unsigned char>(payload[1]));
        }
        bytes.remove_prefix(at + len);
    }
}

std::size_t complete_frames_length(std::string_view bytes) {
    std::size_t at = 0;
    while (bytes.size() - at >= 2) {
        std::size_t len = static_cast<unsigned char>(bytes[at + 1]) & 0x7f;
        std::size_t header = len == 126 ? 4 : len == 127 ? 10 : 2;
        if (bytes.size() - at < header) {
            break;
        }
        if (len == 126) {
            len =
                (static_cast<unsigned char>(bytes[at + 2]) << 8) | static_cast<unsigned char>(bytes[at + 3]);
        } else if (len == 127) {
            len = 0;
            for (std::size_t i = 0; i < 8; ++i) {
                len = (len << 8) | static_cast<unsigned char>(bytes[at + 2 + i]);
            }
        }
        if (bytes.size() - at - header < len) {
            break;
        }
        at += header + len;
    }
    return at;
}

std::string client_text_frame(std::string_view text) {
    std::string out;
    out += static_cast<char>(0x81);
    if (text.size() < 126) {
        out += static_cast<char>(0x80 | text.size());
    } else if (text.size() <= 0xffff) {
        out += static_cast<char>(0x80 | 126);
        out += static_cast<char>(text.size() >> 8);
        out += static_cast<char>(text.size() & 0xff);
    } else {
        out += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i) {
            out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
        }
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    out.append(mask, 4);
    for (std::size_t i = 0; i < text.size(); ++i) {
        out += static_cast<char>(text[i] ^ mask[i % 4]);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// The port

void fake_port::send(shard::conn_id c, net::frame_ref f) {
    fake_conn* conn = cluster_.find(c);
    if (conn == nullptr || conn->closed) {
        return; // as the shard: nothing is queued on a closing connection
    }
    // Frames are usually queued whole, but wslay's own (a close with a reason) may come in pieces.
    conn->partial += f->view();
    std::size_t whole = complete_frames_length(conn->partial);
    decode_server_frames(std::string_view(conn->partial).substr(0, whole), conn->texts, conn->close_code);
    conn->partial.erase(0, whole);
}

void fake_port::send_to_each(std::span<const pusher::local_member> members, const pusher::session* except,
                             const net::frame_ref& f) {
    for (const pusher::local_member& m : members) {
        if (m.s != except) {
            send(m.conn, f);
        }
    }
}

void fake_port::close_gracefully(shard::conn_id c) {
    if (fake_conn* conn = cluster_.find(c); conn != nullptr && !conn->closed) {
        conn->closed = true;
        conn->graceful = true;
    }
}

void fake_port::close(shard::conn_id c) {
    if (fake_conn* conn = cluster_.find(c); conn != nullptr && !conn->closed) {
        conn->closed = true;
    }
}

void fake_port::set_timer(shard::conn_id c, std::uint64_t due_ms) {
    if (fake_conn* conn = cluster_.find(c)) {
        conn->timer_due_ms = due_ms;
    }
}

void fake_port::post(unsigned target, std::unique_ptr<pusher::mail> m) {
    if (cluster_.has_bridge() && target == cluster_.shards()) {
        cluster_.bridge_mail().push_back(std::move(m));
        return;
    }
    if (target >= cluster_.shards()) {
        throw std::logic_error("mail posted to a shard that does not exist");
    }
    cluster_.queue(index_, target).push_back(std::move(m));
}

void fake_port::drain_mail() {
    // What the real shard does before a publish: everything already queued to it, unless a
    // mail is being delivered right now (then the publish comes from a mail handler, and the
    // mail queued behind it must wait its turn).
    if (cluster_.in_drain_) {
        return;
    }
    for (unsigned from = 0; from < cluster_.shards(); ++from) {
        if (cluster_.held_[from * cluster_.shards() + index_]) {
            continue;
        }
        while (cluster_.deliver_one(from, index_)) {
        }
    }
}

std::uint64_t fake_port::now_ms() const noexcept {
    return cluster_.now_ms_;
}

unsigned fake_port::count() const noexcept {
    return cluster_.shards();
}

int fake_port::bridge() const noexcept {
    return cluster_.has_bridge() ? static_cast<int>(cluster_.shards()) : -1;
}

// ---------------------------------------------------------------------------------------------
// The cluster

namespace {
config::server with_default_app(config::server s) {
    if (s.apps.empty()) {
        config::app a;
        a.id = "app-id";
        a.key = "app-key";
        a.secret = "app-secret";
        s.apps.push_back(a);
    }
    return s;
}
} // namespace

fake_cluster::fake_cluster(unsigned shards, config::server settings)
    : settings_(with_default_app(std::move(settings))), queues_(static_cast<std::size_t>(shards) * shards),
      held_(static_cast<std::size_t>(shards) * shards, false) {
    for (unsigned i = 0; i < shards; ++i) {
        ports_.push_back(std::make_unique<fake_port>(*this, i));
    }
    for (unsigned i = 0; i < shards; ++i) {
        contexts_.push_back(std::make_unique<pusher::context>(*ports_[i], settings_, counters_));
        contexts_.back()->set_query_reply_handler(
            [this](pusher::query_reply_mail& r) { replies_.push_back(std::move(r)); });
    }
}

fake_cluster::~fake_cluster() {
    // Sessions leave before the contexts they are registered in go.
    for (auto& c : conns_) {
        c->closed = true;
    }
    finish_closes();
    queues_.clear();
}

std::optional<fake_client> fake_cluster::connect(unsigned shard, std::uint32_t app) {
    auto conn = std::make_unique<fake_conn>();
    conn->id = {next_slot_++, 1};
    conn->shard = shard;
    fake_conn& ref = *conn;
    conns_.push_back(std::move(conn));
    ref.session = contexts_[shard]->open_session(ref.id, app);
    if (!ref.session) {
        conns_.pop_back();
        return std::nullopt;
    }
    fake_client client(*this, ref);
    // connection_established carries the socket id as a JSON string inside `data`.
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(ref.texts.at(0));
    std::string data(doc["data"].get_string().value());
    simdjson::dom::parser inner;
    client.socket_id_ = std::string(inner.parse(data)["socket_id"].get_string().value());
    return client;
}

fake_conn* fake_cluster::find(shard::conn_id id) {
    for (auto& c : conns_) {
        if (c->id == id) {
            return c->close_reported ? nullptr : c.get();
        }
    }
    return nullptr;
}

void fake_cluster::finish_closes() {
    for (auto& c : conns_) {
        if (c->closed && !c->close_reported && c->session) {
            c->close_reported = true;
            c->session->on_closed();
            c->session.reset();
        }
    }
}

void fake_cluster::deliver(unsigned to, std::unique_ptr<pusher::mail> m) {
    struct draining {
        bool& flag;
        bool was = flag;
        explicit draining(bool& f) : flag(f) { flag = true; }
        ~draining() { flag = was; }
    } guard(in_drain_);
    contexts_[to]->on_mail(*m);
    finish_closes();
}

bool fake_cluster::deliver_one(unsigned from, unsigned to) {
    mail_queue& q = queue(from, to);
    if (q.empty()) {
        return false;
    }
    std::unique_ptr<pusher::mail> m = std::move(q.front());
    q.pop_front();
    deliver(to, std::move(m));
    return true;
}

std::size_t fake_cluster::queued() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < queues_.size(); ++i) {
        if (!held_[i]) {
            n += queues_[i].size();
        }
    }
    return n;
}

void fake_cluster::deliver_all() {
    for (int round = 0; round < 100000 && queued() > 0; ++round) {
        for (unsigned from = 0; from < shards(); ++from) {
            for (unsigned to = 0; to < shards(); ++to) {
                if (!held_[from * shards() + to]) {
                    deliver_one(from, to);
                }
            }
        }
    }
    if (queued() > 0) {
        throw std::runtime_error("mail keeps coming: a loop between shards?");
    }
}

void fake_cluster::deliver_shuffled(std::uint32_t seed) {
    std::mt19937 rng(seed);
    for (int step = 0; step < 1000000 && queued() > 0; ++step) {
        std::vector<std::size_t> ready;
        for (std::size_t i = 0; i < queues_.size(); ++i) {
            if (!held_[i] && !queues_[i].empty()) {
                ready.push_back(i);
            }
        }
        std::size_t pick = ready[rng() % ready.size()];
        deliver_one(static_cast<unsigned>(pick / shards()), static_cast<unsigned>(pick % shards()));
    }
}

void fake_cluster::hold(unsigned from, unsigned to, bool held) {
    held_[from * shards() + to] = held;
}

void fake_cluster::advance(std::uint64_t ms) {
    std::uint64_t end = now_ms_ + ms;
    // Step a second at a time, so timers and ticks interleave as they would.
    while (now_ms_ < end) {
        std::uint64_t next = std::min(end, (now_ms_ / 1000 + 1) * 1000);
        bool crossed = next % 1000 == 0;
        now_ms_ = next;
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            fake_conn& c = *conns_[i];
            if (!c.closed && c.session && c.timer_due_ms != 0 && c.timer_due_ms <= now_ms_) {
                c.timer_due_ms = 0;
                c.session->on_timer();
            }
        }
        if (crossed) {
            for (auto& ctx : contexts_) {
                ctx->on_tick();
            }
        }
        finish_closes();
    }
}

pusher::query_reply_mail fake_cluster::ask(unsigned from, pusher::query_kind kind, std::uint32_t app,
                                           std::vector<std::string> names, bool all_shards) {
    replies_.clear();
    std::vector<unsigned> targets;
    if (all_shards) {
        for (unsigned s = 0; s < shards(); ++s) {
            targets.push_back(s);
        }
    } else {
        targets.push_back(contexts_[from]->owner_of(app, names.at(0)));
    }
    for (unsigned t : targets) {
        auto q = std::make_unique<pusher::query_mail>();
        q->kind = kind;
        q->app = app;
        q->names = names;
        q->reply_to = from;
        ports_[from]->post(t, std::move(q));
    }
    deliver_all();
    pusher::query_reply_mail sum;
    for (auto& r : replies_) {
        for (auto& ch : r.channels) {
            sum.channels.push_back(std::move(ch));
        }
        for (auto& u : r.users) {
            sum.users.push_back(std::move(u));
        }
        sum.count += r.count;
    }
    return sum;
}

// ---------------------------------------------------------------------------------------------
// A client

void fake_client::say(std::string_view json) {
    if (conn_->session && !conn_->closed) {
        conn_->session->on_text(json);
    }
    cluster_->finish_closes();
}

void fake_client::feed(std::string_view bytes) {
    if (conn_->session && !conn_->closed) {
        conn_->session->on_data(bytes);
    }
    cluster_->finish_closes();
}

void fake_client::disconnect() {
    conn_->closed = true;
    cluster_->finish_closes();
}

std::vector<std::string> fake_client::events(std::string_view event) const {
    std::string needle = "\"event\":";
    core::append_json_string(needle, event);
    std::vector<std::string> out;
    for (const std::string& t : conn_->texts) {
        if (t.find(needle) != std::string::npos) {
            out.push_back(t);
        }
    }
    return out;
}

std::string fake_client::last(std::string_view event) const {
    auto all = events(event);
    return all.empty() ? std::string() : all.back();
}

std::string fake_client::auth(std::string_view channel, std::string_view channel_data) const {
    const config::app& a = cluster_->settings().apps[conn_->session ? conn_->session->app() : 0];
    std::string to_sign = socket_id_ + ":" + std::string(channel);
    if (!channel_data.empty()) {
        to_sign += ":" + std::string(channel_data);
    }
    return a.key + ":" + core::hmac_sha256_hex(a.secret, to_sign);
}

void fake_client::subscribe(std::string_view channel, std::string_view channel_data) {
    std::string msg = R"({"event":"pusher:subscribe","data":{"channel":)";
    core::append_json_string(msg, channel);
    if (channel.starts_with("private-") || channel.starts_with("presence-") ||
        channel.starts_with("private-cache-") || channel.starts_with("presence-cache-")) {
        msg += R"(,"auth":)";
        core::append_json_string(msg, auth(channel, channel_data));
    }
    if (!channel_data.empty()) {
        msg += R"(,"channel_data":)";
        core::append_json_string(msg, channel_data);
    }
    msg += "}}";
    say(msg);
}

void fake_client::unsubscribe(std::string_view channel) {
    std::string msg = R"({"event":"pusher:unsubscribe","data":{"channel":)";
    core::append_json_string(msg, channel);
    msg += "}}";
    say(msg);
}

void fake_client::signin(std::string_view user_data) {
    const config::app& a = cluster_->settings().apps[conn_->session ? conn_->session->app() : 0];
    std::string sig = core::hmac_sha256_hex(a.secret, socket_id_ + "::user::" + std::string(user_data));
    std::string msg = R"({"event":"pusher:signin","data":{"auth":)";
    core::append_json_string(msg, a.key + ":" + sig);
    msg += R"(,"user_data":)";
    core::append_json_string(msg, user_data);
    msg += "}}";
    say(msg);
}

} // namespace ringcast::testing
