// The TLS server session over memory, no sockets: handshakes against our own client (tls_client.h)
// and against OpenSSL used directly (for ALPN, a version ceiling, close_notify, client certificates,
// resumption), plaintext both ways, the output's in-flight and pending pieces, SNI, plain HTTP and
// garbage, and every way a certificate or a key fails to load. The certificates are made at run
// time in a temporary directory: no key material is committed.
#include "ringcast/net/tls_client.h"
#include "ringcast/net/tls_server.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::net {
// For GoogleTest's messages (found by argument-dependent lookup, so in this namespace).
static std::ostream& operator<<(std::ostream& out, tls_server_session::result r) {
    switch (r) {
    case tls_server_session::result::ok:
        return out << "ok";
    case tls_server_session::result::closed:
        return out << "closed";
    case tls_server_session::result::failed:
        return out << "failed";
    }
    return out << "result " << static_cast<int>(r);
}
} // namespace ringcast::net

namespace config = ringcast::config;
namespace net = ringcast::net;
using result = net::tls_server_session::result;

namespace {

struct openssl_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
    void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, openssl_free>;
using cert_ptr = std::unique_ptr<X509, openssl_free>;
using ctx_ptr = std::unique_ptr<SSL_CTX, openssl_free>;
using session_ptr = std::unique_ptr<SSL_SESSION, openssl_free>;

// ---------------------------------------------------------------------------------------------
// Certificates: a CA, server certificates it signs, a client certificate, a stranger's

constexpr long ca_serial = 1;
constexpr long localhost_serial = 0x5EED01;
constexpr long other_serial = 0x0702;
constexpr long wild_serial = 0x0803;
constexpr long client_serial = 0x0904;
constexpr long stranger_serial = 0x0A05;
constexpr const char* passphrase = "open sesame";

struct cert_spec {
    std::string common_name;
    std::vector<std::string> dns; // subjectAltName DNS entries
    long serial = 1;
    bool ca = false;
};

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// Signed by `issuer` with `issuer_key`, or self-signed when they are null.
cert_ptr make_cert(const cert_spec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    cert_ptr cert(X509_new());
    X509* x = cert.get();
    X509_set_version(x, 2); // v3
    ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer : x;
    X509_set_issuer_name(x, X509_get_subject_name(signer));
    add_extension(x, signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (spec.ca) {
        add_extension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_extension(x, signer, NID_subject_key_identifier, "hash");
    }
    std::string san;
    for (const std::string& dns : spec.dns) {
        san += (san.empty() ? "DNS:" : ",DNS:") + dns;
    }
    if (!san.empty()) {
        add_extension(x, signer, NID_subject_alt_name, san);
    }
    EXPECT_GT(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
    return cert;
}

void write_cert(const std::string& path, X509* cert) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    EXPECT_EQ(PEM_write_X509(f, cert), 1);
    std::fclose(f);
}

// Encrypted with AES-256 under `pass` unless it is empty.
void write_key(const std::string& path, EVP_PKEY* key, const std::string& pass = "") {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    const EVP_CIPHER* cipher = pass.empty() ? nullptr : EVP_aes_256_cbc();
    EXPECT_EQ(PEM_write_PrivateKey(f, key, cipher, reinterpret_cast<const unsigned char*>(pass.data()),
                                   static_cast<int>(pass.size()), nullptr, nullptr),
              1);
    std::fclose(f);
}

// A fresh P-256 key and a certificate for it (signed by `ca`, or self-signed), written as
// DIR/NAME.pem and DIR/NAME.key.
config::tls_certificate issue(const std::string& dir, const std::string& name, const cert_spec& spec,
                              X509* ca, EVP_PKEY* ca_key, key_ptr* key_out = nullptr) {
    key_ptr key(EVP_EC_gen("P-256"));
    EXPECT_NE(key, nullptr);
    cert_ptr cert = make_cert(spec, key.get(), ca, ca_key);
    config::tls_certificate out{dir + "/" + name + ".pem", dir + "/" + name + ".key", ""};
    write_cert(out.cert_file, cert.get());
    write_key(out.key_file, key.get());
    if (key_out != nullptr) {
        *key_out = std::move(key);
    }
    return out;
}

struct pki {
    std::string dir;
    std::string ca;                      // the CA certificate: what clients trust, and the client CA setting
    config::tls_certificate localhost;   // DNS:localhost (the default certificate)
    config::tls_certificate other;       // DNS:other.test
    config::tls_certificate wild;        // DNS:*.wild.test
    config::tls_certificate client;      // no subjectAltName, CN client.test
    config::tls_certificate stranger;    // self-signed, CN stranger.test
    std::string localhost_encrypted_key; // localhost's key under `passphrase`
};

pki make_pki(const std::string& dir) {
    pki p;
    p.dir = dir;
    key_ptr ca_key(EVP_EC_gen("P-256"));
    cert_ptr ca = make_cert({"ringcast test CA", {}, ca_serial, true}, ca_key.get(), nullptr, nullptr);
    p.ca = dir + "/ca.pem";
    write_cert(p.ca, ca.get());
    key_ptr localhost_key;
    p.localhost = issue(dir, "localhost", {"localhost", {"localhost"}, localhost_serial}, ca.get(),
                        ca_key.get(), &localhost_key);
    p.other = issue(dir, "other", {"other.test", {"other.test"}, other_serial}, ca.get(), ca_key.get());
    p.wild = issue(dir, "wild", {"wild", {"*.wild.test"}, wild_serial}, ca.get(), ca_key.get());
    p.client = issue(dir, "client", {"client.test", {}, client_serial}, ca.get(), ca_key.get());
    p.stranger = issue(dir, "stranger", {"stranger.test", {}, stranger_serial}, nullptr, nullptr);
    p.localhost_encrypted_key = dir + "/localhost-encrypted.key";
    write_key(p.localhost_encrypted_key, localhost_key.get(), passphrase);
    return p;
}

config::tls_settings settings_with(std::vector<config::tls_certificate> certificates) {
    config::tls_settings settings;
    settings.certificates = std::move(certificates);
    return settings;
}

std::shared_ptr<const net::tls_server_context> make_context(const config::tls_settings& settings) {
    std::string error;
    std::shared_ptr<const net::tls_server_context> context = net::tls_server_context::create(settings, error);
    EXPECT_NE(context, nullptr) << error;
    return context;
}

// The error of a context that must not load.
std::string context_error(const config::tls_settings& settings) {
    std::string error;
    EXPECT_EQ(net::tls_server_context::create(settings, error), nullptr);
    EXPECT_FALSE(error.empty());
    return error;
}

// ---------------------------------------------------------------------------------------------
// Clients, and carrying bytes between a client and a server session

class peer {
public:
    virtual ~peer() = default;
    virtual void take_output(std::string& out) = 0;
    virtual bool receive(std::string_view cipher, std::string& plain) = 0;
};

// Our own client (tls_client.h), verifying the server against the test CA and `host`.
class library_peer final : public peer {
public:
    library_peer(const std::string& ca_file, const std::string& host) {
        std::string error;
        context_ = net::tls_context::create(false, ca_file, error);
        EXPECT_NE(context_, nullptr) << error;
        EXPECT_TRUE(context_ != nullptr && session_.start(*context_, host)) << session_.error();
    }
    void take_output(std::string& out) override { session_.take_output(out); }
    bool receive(std::string_view cipher, std::string& plain) override {
        return session_.receive(cipher, plain);
    }
    net::tls_session& session() { return session_; }

private:
    std::unique_ptr<net::tls_context> context_;
    net::tls_session session_;
};

// OpenSSL used directly over memory BIOs, for what tls_client does not offer: ALPN, a version
// ceiling, close_notify, client certificates, no SNI, resumption, the server's certificate.
class raw_peer final : public peer {
public:
    raw_peer(SSL_CTX* ctx, const char* sni) : ssl_(SSL_new(ctx)) {
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(in_, -1);
        SSL_set_bio(ssl_, in_, out_);
        SSL_set_connect_state(ssl_);
        if (sni != nullptr) {
            SSL_set_tlsext_host_name(ssl_, sni);
        }
    }
    ~raw_peer() override { SSL_free(ssl_); }
    raw_peer(const raw_peer&) = delete;
    raw_peer& operator=(const raw_peer&) = delete;

    [[nodiscard]] SSL* ssl() const noexcept { return ssl_; }
    // SSL_get_error() of the failure that stopped the client (SSL_ERROR_ZERO_RETURN: close_notify).
    [[nodiscard]] int failure() const noexcept { return failure_; }

    void take_output(std::string& out) override {
        if (failure_ == 0 && SSL_is_init_finished(ssl_) == 0) {
            (void)step(SSL_do_handshake(ssl_));
        }
        char* data = nullptr;
        long n = BIO_get_mem_data(out_, &data);
        if (n > 0) {
            out.append(data, static_cast<std::size_t>(n));
            (void)BIO_reset(out_);
        }
    }
    bool receive(std::string_view cipher, std::string& plain) override {
        BIO_write(in_, cipher.data(), static_cast<int>(cipher.size()));
        if (SSL_is_init_finished(ssl_) == 0 && !step(SSL_do_handshake(ssl_))) {
            return false;
        }
        char buf[16384];
        while (SSL_is_init_finished(ssl_) != 0) {
            int n = SSL_read(ssl_, buf, sizeof buf);
            if (n <= 0) {
                return step(n);
            }
            plain.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

private:
    bool step(int rc) {
        int code = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
        if (code == SSL_ERROR_NONE || code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
            return true;
        }
        failure_ = code;
        ERR_clear_error();
        return false;
    }

    SSL* ssl_;
    BIO* in_ = nullptr;
    BIO* out_ = nullptr;
    int failure_ = 0;
};

// A raw client's context: trusts the test CA (no host name check), TLS 1.2 and up to `max_version`.
ctx_ptr raw_context(const std::string& ca_file, int max_version = 0) {
    ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    if (max_version != 0) {
        SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    }
    return ctx;
}

void use_client_certificate(SSL_CTX* ctx, const config::tls_certificate& cert) {
    ASSERT_EQ(SSL_CTX_use_certificate_file(ctx, cert.cert_file.c_str(), SSL_FILETYPE_PEM), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, cert.key_file.c_str(), SSL_FILETYPE_PEM), 1);
}

// Everything the server would send, as the shard sends it: next_output() and consume() until
// there is no more.
std::string drain(net::tls_server_session& server) {
    std::string out;
    while (server.has_output()) {
        std::string_view piece = server.next_output();
        out.append(piece);
        server.consume(piece.size());
    }
    return out;
}

struct exchange {
    result server = result::ok; // the server's first result other than ok
    bool client_ok = true;      // false once the client failed (or read close_notify)
    std::string server_plain;   // what the server decrypted
    std::string client_plain;   // what the client decrypted
};

// Carries ciphertext both ways until neither side has anything more to send.
void pump(peer& client, net::tls_server_session& server, exchange& x) {
    for (int round = 0; round < 32; ++round) {
        std::string to_server;
        client.take_output(to_server);
        if (!to_server.empty()) {
            result r = server.receive(to_server, x.server_plain);
            if (x.server == result::ok) {
                x.server = r;
            }
        }
        std::string to_client = drain(server);
        if (!to_client.empty() && x.client_ok) {
            x.client_ok = client.receive(to_client, x.client_plain);
        }
        if (to_server.empty() && to_client.empty()) {
            return;
        }
    }
    ADD_FAILURE() << "the client and the server never went quiet";
}

// Feeds `cipher` to the server one byte at a time; every receive must be ok.
void receive_bytewise(net::tls_server_session& server, std::string_view cipher, std::string& plain) {
    for (char byte : cipher) {
        ASSERT_EQ(server.receive(std::string_view(&byte, 1), plain), result::ok) << server.error();
    }
}

// The content type of each TLS record in `bytes` (23: application data, 21: alert).
std::vector<int> record_types(std::string_view bytes) {
    std::vector<int> types;
    while (bytes.size() >= 5) {
        std::size_t length = static_cast<std::size_t>(static_cast<unsigned char>(bytes[3])) << 8 |
                             static_cast<unsigned char>(bytes[4]);
        types.push_back(static_cast<unsigned char>(bytes[0]));
        bytes.remove_prefix(std::min(bytes.size(), 5 + length));
    }
    return types;
}

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    }
    return s;
}

iovec iov_of(std::string& s) {
    return {s.data(), s.size()};
}

// ---------------------------------------------------------------------------------------------

class tls_server : public testing::Test {
protected:
    static void SetUpTestSuite() {
        char dir[] = "/tmp/ringcast-tls-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        files_ = std::make_unique<pki>(make_pki(dir));
    }
    static void TearDownTestSuite() {
        if (files_ != nullptr) {
            std::filesystem::remove_all(files_->dir);
        }
        files_.reset();
    }
    static const pki& files() { return *files_; }

    static std::shared_ptr<const net::tls_server_context> localhost_context() {
        return make_context(settings_with({files().localhost}));
    }
    static std::shared_ptr<const net::tls_server_context> sni_context() {
        return make_context(settings_with({files().localhost, files().other, files().wild}));
    }
    static ctx_ptr raw(int max_version = 0) { return raw_context(files().ca, max_version); }

    // A server session and our client for `host`, the handshake carried as far as it goes.
    struct connected {
        explicit connected(std::shared_ptr<const net::tls_server_context> context,
                           const std::string& host = "localhost")
            : server(std::move(context)), client(files().ca, host) {
            pump(client, server, x);
        }
        net::tls_server_session server;
        library_peer client;
        exchange x;
    };

    inline static std::unique_ptr<pki> files_;
};

// ---------------------------------------------------------------------------------------------
// Handshake and plaintext

TEST_F(tls_server, handshake_over_memory_then_plaintext_both_ways) {
    connected c(localhost_context());
    ASSERT_TRUE(c.x.client_ok) << c.client.session().error();
    ASSERT_EQ(c.x.server, result::ok) << c.server.error();
    EXPECT_TRUE(c.server.established());
    EXPECT_TRUE(c.client.session().established());
    EXPECT_FALSE(c.server.broken());
    EXPECT_TRUE(c.server.error().empty());
    EXPECT_TRUE(c.server.describe().starts_with("TLSv1.3 TLS_")) << c.server.describe();

    ASSERT_TRUE(c.client.session().send(R"({"event":"pusher:ping","data":{}})"));
    pump(c.client, c.server, c.x);
    EXPECT_EQ(c.x.server_plain, R"({"event":"pusher:ping","data":{}})");

    std::string a = "first frame, ", b = "second frame, ", empty, d = "third frame";
    iovec iov[] = {iov_of(a), iov_of(b), iov_of(empty), iov_of(d)};
    ASSERT_TRUE(c.server.encrypt(iov, 4)) << c.server.error();
    ASSERT_TRUE(c.server.encrypt(iov, 1)); // one frame is encrypted where it lies
    pump(c.client, c.server, c.x);
    EXPECT_EQ(c.x.client_plain, a + b + d + a);
    EXPECT_EQ(c.x.server, result::ok);
}

TEST_F(tls_server, nothing_to_encrypt_produces_no_output) {
    connected c(localhost_context());
    ASSERT_TRUE(c.server.established());
    std::string empty;
    iovec iov[] = {iov_of(empty), iov_of(empty)};
    EXPECT_TRUE(c.server.encrypt(iov, 0));
    EXPECT_TRUE(c.server.encrypt(iov, 1));
    EXPECT_TRUE(c.server.encrypt(iov, 2));
    EXPECT_FALSE(c.server.has_output());
}

TEST_F(tls_server, a_large_batch_of_iovecs_leaves_as_records_in_order) {
    connected c(localhost_context());
    ASSERT_TRUE(c.server.established());
    std::string data = pattern(200 * 1024);
    std::vector<iovec> iov;
    for (std::size_t at = 0, n = 1; at < data.size(); n = n * 3 % 4093 + 1) {
        std::size_t take = std::min(n, data.size() - at);
        iov.push_back({data.data() + at, take});
        at += take;
    }
    ASSERT_GT(iov.size(), 50u);
    ASSERT_TRUE(c.server.encrypt(iov.data(), static_cast<unsigned>(iov.size()))) << c.server.error();
    std::string out = drain(c.server);
    std::vector<int> types = record_types(out);
    EXPECT_GE(std::count(types.begin(), types.end(), 23), 13); // 200 KiB at 16 KiB a record
    std::string plain;
    ASSERT_TRUE(c.client.session().receive(out, plain)) << c.client.session().error();
    EXPECT_TRUE(plain == data) << "received " << plain.size() << " bytes of " << data.size();

    iovec whole{data.data(), data.size()}; // the one-iovec path
    ASSERT_TRUE(c.server.encrypt(&whole, 1));
    plain.clear();
    ASSERT_TRUE(c.client.session().receive(drain(c.server), plain));
    EXPECT_TRUE(plain == data);
}

TEST_F(tls_server, many_records_from_the_client_are_read_in_one_receive) {
    connected c(localhost_context());
    ASSERT_TRUE(c.server.established());
    std::string data = pattern(300 * 1024 + 17);
    ASSERT_TRUE(c.client.session().send(data));
    std::string cipher;
    c.client.take_output(cipher);
    std::string plain;
    EXPECT_EQ(c.server.receive(cipher, plain), result::ok) << c.server.error();
    EXPECT_TRUE(plain == data) << "received " << plain.size() << " bytes of " << data.size();
}

TEST_F(tls_server, ciphertext_cut_at_every_byte_still_arrives_whole) {
    net::tls_server_session server(localhost_context());
    library_peer client(files().ca, "localhost");
    std::string plain, cipher;
    client.take_output(cipher); // ClientHello
    receive_bytewise(server, cipher, plain);
    std::string to_client = drain(server);
    ASSERT_FALSE(to_client.empty());
    ASSERT_TRUE(client.receive(to_client, plain)) << client.session().error();
    ASSERT_TRUE(client.session().established());
    ASSERT_TRUE(client.session().send("cut into bytes"));
    cipher.clear();
    client.take_output(cipher); // the client's Finished, then the record
    std::string_view all = cipher;
    receive_bytewise(server, all.substr(0, all.size() - 1), plain);
    EXPECT_TRUE(server.established());
    EXPECT_EQ(plain, "");
    EXPECT_EQ(server.receive(all.substr(all.size() - 1), plain), result::ok);
    EXPECT_EQ(plain, "cut into bytes");
}

TEST_F(tls_server, alpn_chooses_http_1_1_and_goes_on_without_it_for_h2_alone) {
    static const unsigned char both[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    static const unsigned char h2[] = {2, 'h', '2'};
    std::shared_ptr<const net::tls_server_context> context = localhost_context();
    ctx_ptr ctx = raw();
    for (bool offer_http : {true, false}) {
        raw_peer client(ctx.get(), "localhost");
        ASSERT_EQ(offer_http ? SSL_set_alpn_protos(client.ssl(), both, sizeof both)
                             : SSL_set_alpn_protos(client.ssl(), h2, sizeof h2),
                  0);
        net::tls_server_session server(context);
        exchange x;
        pump(client, server, x);
        ASSERT_TRUE(x.client_ok && server.established()) << server.error();
        const unsigned char* chosen = nullptr;
        unsigned length = 0;
        SSL_get0_alpn_selected(client.ssl(), &chosen, &length);
        EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(chosen), length),
                  offer_http ? "http/1.1" : "");
    }
}

// ---------------------------------------------------------------------------------------------
// The output: what is in flight stays put while new output waits behind it

TEST_F(tls_server, a_short_send_keeps_its_bytes_while_new_output_waits_behind_them) {
    connected c(localhost_context());
    ASSERT_TRUE(c.server.established());
    ASSERT_FALSE(c.server.has_output());
    EXPECT_TRUE(c.server.next_output().empty());
    std::string first = "the first batch", second = "the second batch";
    iovec one = iov_of(first);
    ASSERT_TRUE(c.server.encrypt(&one, 1));
    ASSERT_TRUE(c.server.has_output());
    std::string_view in_flight = c.server.next_output();
    ASSERT_GT(in_flight.size(), 20u);
    const std::string first_record(in_flight);
    const char* const at = in_flight.data();

    c.server.consume(7); // a short send: the kernel took 7 bytes
    iovec two = iov_of(second);
    ASSERT_TRUE(c.server.encrypt(&two, 1)); // produced while the rest is in flight
    std::string_view rest = c.server.next_output();
    EXPECT_EQ(rest.data(), at + 7); // the bytes in flight did not move
    EXPECT_EQ(rest, std::string_view(first_record).substr(7));
    EXPECT_EQ(c.server.next_output().data(), rest.data()); // asking again changes nothing
    c.server.consume(3);
    rest = c.server.next_output();
    EXPECT_EQ(rest.data(), at + 10);
    c.server.consume(rest.size());

    ASSERT_TRUE(c.server.has_output());
    std::string_view next = c.server.next_output(); // now the second record
    std::string second_record(next);
    EXPECT_NE(second_record, first_record);
    c.server.consume(next.size());
    EXPECT_FALSE(c.server.has_output());
    EXPECT_TRUE(c.server.next_output().empty());

    std::string plain;
    ASSERT_TRUE(c.client.session().receive(first_record + second_record, plain));
    EXPECT_EQ(plain, first + second);
}

// ---------------------------------------------------------------------------------------------
// SNI

// The serial of the certificate the server presents to a client asking for `sni` (null: no SNI).
long served_serial(const std::shared_ptr<const net::tls_server_context>& context, SSL_CTX* ctx,
                   const char* sni) {
    raw_peer client(ctx, sni);
    net::tls_server_session server(context);
    exchange x;
    pump(client, server, x);
    EXPECT_TRUE(x.client_ok && server.established())
        << (sni != nullptr ? sni : "(no SNI)") << ": " << server.error();
    X509* cert = SSL_get0_peer_certificate(client.ssl());
    return cert != nullptr ? ASN1_INTEGER_get(X509_get0_serialNumber(cert)) : -1;
}

TEST_F(tls_server, sni_picks_the_certificate_by_its_names) {
    std::shared_ptr<const net::tls_server_context> context = sni_context();
    ctx_ptr ctx = raw();
    EXPECT_EQ(served_serial(context, ctx.get(), "localhost"), localhost_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), "other.test"), other_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), "OTHER.Test"), other_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), "a.wild.test"), wild_serial);
    // A wildcard covers one label, not the bare domain nor two labels: the default certificate.
    EXPECT_EQ(served_serial(context, ctx.get(), "wild.test"), localhost_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), "a.b.wild.test"), localhost_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), "unknown.example"), localhost_serial);
    EXPECT_EQ(served_serial(context, ctx.get(), nullptr), localhost_serial);
}

TEST_F(tls_server, a_client_checking_the_host_name_gets_the_certificate_for_it) {
    std::shared_ptr<const net::tls_server_context> context = sni_context();
    for (const char* host : {"localhost", "other.test", "a.wild.test"}) {
        connected c(context, host);
        EXPECT_TRUE(c.x.client_ok) << host << ": " << c.client.session().error();
        EXPECT_TRUE(c.server.established()) << host << ": " << c.server.error();
    }
    for (const char* host : {"wild.test", "a.b.wild.test"}) { // the default certificate: not theirs
        connected c(context, host);
        EXPECT_FALSE(c.x.client_ok) << host;
        EXPECT_NE(c.client.session().error().find("certificate"), std::string::npos)
            << c.client.session().error();
        EXPECT_EQ(c.x.server, result::failed) << host;
        EXPECT_FALSE(c.server.established());
    }
}

// ---------------------------------------------------------------------------------------------
// Not TLS, or not all of it yet

TEST_F(tls_server, plain_http_fails_as_plain_http_and_its_answer_replaces_the_output) {
    static const char* const requests[] = {
        "GET /up HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /apps/1/events HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /app/key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n",
        // Methods OpenSSL does not recognise itself.
        "DELETE /apps/1/channels HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS /app/key HTTP/1.1\r\nHost: x\r\n\r\n",
        "PATCH /x HTTP/1.1\r\n\r\n",
    };
    std::shared_ptr<const net::tls_server_context> context = localhost_context();
    const std::string answer = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    for (const char* request : requests) {
        net::tls_server_session server(context);
        std::string plain;
        EXPECT_EQ(server.receive(request, plain), result::failed) << request;
        EXPECT_TRUE(server.plain_http()) << request << server.error();
        EXPECT_TRUE(server.broken());
        EXPECT_FALSE(server.established());
        EXPECT_FALSE(server.error().empty());
        EXPECT_TRUE(plain.empty());
        server.replace_output(answer);
        EXPECT_EQ(drain(server), answer);
        EXPECT_EQ(server.receive("GET / HTTP/1.1\r\n\r\n", plain), result::failed); // broken stays broken
    }
}

TEST_F(tls_server, plain_http_in_pieces_is_still_plain_http) {
    net::tls_server_session server(localhost_context());
    std::string plain;
    EXPECT_EQ(server.receive("GE", plain), result::ok); // too short to tell
    EXPECT_FALSE(server.broken());
    EXPECT_EQ(server.receive("T /up HTTP/1.1\r\nHost: x\r\n\r\n", plain), result::failed);
    EXPECT_TRUE(server.plain_http()) << server.error();
}

TEST_F(tls_server, garbage_fails_and_is_not_taken_for_http) {
    std::shared_ptr<const net::tls_server_context> context = localhost_context();
    for (unsigned seed = 1; seed <= 16; ++seed) {
        std::mt19937 random(seed);
        std::string garbage(512, '\0');
        for (char& ch : garbage) {
            ch = static_cast<char>(random());
        }
        net::tls_server_session server(context);
        std::string plain;
        EXPECT_EQ(server.receive(garbage, plain), result::failed) << "seed " << seed;
        EXPECT_FALSE(server.plain_http()) << "seed " << seed;
        EXPECT_TRUE(server.broken());
        EXPECT_FALSE(server.error().empty()) << "seed " << seed;
        EXPECT_TRUE(plain.empty());
    }
}

TEST_F(tls_server, a_truncated_client_hello_waits_for_the_rest) {
    net::tls_server_session server(localhost_context());
    library_peer client(files().ca, "localhost");
    std::string hello, plain;
    client.take_output(hello);
    ASSERT_GT(hello.size(), 100u);
    std::string_view h = hello;
    EXPECT_EQ(server.receive(h.substr(0, 3), plain), result::ok); // not even a record header
    EXPECT_EQ(server.receive(h.substr(3, h.size() / 2 - 3), plain), result::ok);
    EXPECT_FALSE(server.established());
    EXPECT_FALSE(server.broken());
    EXPECT_FALSE(server.has_output());
    EXPECT_TRUE(server.error().empty());
    server.close_notify(); // nothing to close yet
    EXPECT_FALSE(server.notify_sent());
    EXPECT_FALSE(server.has_output());

    EXPECT_EQ(server.receive(h.substr(h.size() / 2), plain), result::ok) << server.error();
    EXPECT_TRUE(server.has_output()); // ServerHello and the rest of the server's flight
    exchange x;
    ASSERT_TRUE(client.receive(drain(server), x.client_plain)) << client.session().error();
    pump(client, server, x);
    EXPECT_TRUE(server.established());
}

// ---------------------------------------------------------------------------------------------
// close_notify

TEST_F(tls_server, the_clients_close_notify_reads_as_closed) {
    ctx_ptr ctx = raw();
    raw_peer client(ctx.get(), "localhost");
    net::tls_server_session server(localhost_context());
    exchange x;
    pump(client, server, x);
    ASSERT_TRUE(server.established()) << server.error();
    ASSERT_EQ(SSL_write(client.ssl(), "bye", 3), 3);
    EXPECT_EQ(SSL_shutdown(client.ssl()), 0); // sent; theirs not received
    std::string cipher, plain;
    client.take_output(cipher);
    EXPECT_EQ(server.receive(cipher, plain), result::closed);
    EXPECT_EQ(plain, "bye"); // what came before close_notify is delivered
    EXPECT_FALSE(server.broken());
}

TEST_F(tls_server, the_servers_close_notify_ends_the_session_for_the_client) {
    connected c(localhost_context());
    ASSERT_TRUE(c.server.established());
    c.server.close_notify();
    EXPECT_TRUE(c.server.notify_sent());
    std::string out = drain(c.server);
    ASSERT_FALSE(out.empty());
    c.server.close_notify(); // once only
    EXPECT_FALSE(c.server.has_output());
    std::string plain;
    EXPECT_FALSE(c.client.session().receive(out, plain));
    EXPECT_NE(c.client.session().error().find("close_notify"), std::string::npos)
        << c.client.session().error();

    ctx_ptr ctx = raw(); // and to OpenSSL itself it reads as the end of the session
    raw_peer client(ctx.get(), "localhost");
    net::tls_server_session server(localhost_context());
    exchange x;
    pump(client, server, x);
    ASSERT_TRUE(server.established());
    server.close_notify();
    EXPECT_FALSE(client.receive(drain(server), plain));
    EXPECT_EQ(client.failure(), SSL_ERROR_ZERO_RETURN);
    EXPECT_NE(SSL_get_shutdown(client.ssl()) & SSL_RECEIVED_SHUTDOWN, 0);
}

// ---------------------------------------------------------------------------------------------
// Versions and ciphers

TEST_F(tls_server, a_tls_1_2_client_is_refused_with_an_alert_when_the_minimum_is_1_3) {
    config::tls_settings settings = settings_with({files().localhost});
    settings.min_version = "1.3";
    std::shared_ptr<const net::tls_server_context> context = make_context(settings);
    ASSERT_NE(context, nullptr);
    EXPECT_TRUE(context->describe().starts_with("TLS 1.3+")) << context->describe();
    ctx_ptr ctx = raw(TLS1_2_VERSION);
    raw_peer client(ctx.get(), "localhost");
    net::tls_server_session server(context);
    std::string hello, plain;
    client.take_output(hello);
    EXPECT_EQ(server.receive(hello, plain), result::failed);
    EXPECT_TRUE(server.broken());
    EXPECT_FALSE(server.plain_http());
    EXPECT_FALSE(server.error().empty());
    std::string alert = drain(server);
    ASSERT_GE(alert.size(), 7u);
    EXPECT_EQ(alert[0], 21); // an alert record
    EXPECT_EQ(alert[5], 2);  // fatal
    EXPECT_EQ(alert[6], 70); // protocol_version
    EXPECT_FALSE(client.receive(alert, plain));

    connected c(context); // TLS 1.3 is welcome
    EXPECT_TRUE(c.server.established()) << c.server.error();
}

TEST_F(tls_server, tls_1_2_uses_the_configured_cipher_list) {
    config::tls_settings settings = settings_with({files().localhost});
    settings.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    std::shared_ptr<const net::tls_server_context> context = make_context(settings);
    ASSERT_NE(context, nullptr);
    ctx_ptr ctx = raw(TLS1_2_VERSION);
    raw_peer client(ctx.get(), "localhost");
    net::tls_server_session server(context);
    exchange x;
    pump(client, server, x);
    ASSERT_TRUE(x.client_ok && server.established()) << server.error();
    EXPECT_EQ(server.describe(), "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256");
    ASSERT_EQ(SSL_write(client.ssl(), "over 1.2", 8), 8);
    std::string a = "back ", b = "over 1.2";
    iovec iov[] = {iov_of(a), iov_of(b)};
    ASSERT_TRUE(server.encrypt(iov, 2));
    pump(client, server, x);
    EXPECT_EQ(x.server_plain, "over 1.2");
    EXPECT_EQ(x.client_plain, "back over 1.2");

    ctx_ptr other = raw(TLS1_2_VERSION); // a client offering only another cipher
    ASSERT_EQ(SSL_CTX_set_cipher_list(other.get(), "ECDHE-ECDSA-AES256-GCM-SHA384"), 1);
    raw_peer refused(other.get(), "localhost");
    net::tls_server_session refusing(context);
    exchange y;
    pump(refused, refusing, y);
    EXPECT_EQ(y.server, result::failed);
    EXPECT_NE(refusing.error().find("no shared cipher"), std::string::npos) << refusing.error();
}

// ---------------------------------------------------------------------------------------------
// Client certificates

TEST_F(tls_server, with_a_client_ca_a_client_needs_a_certificate_signed_by_it) {
    config::tls_settings settings = settings_with({files().localhost});
    settings.client_ca_file = files().ca;
    std::shared_ptr<const net::tls_server_context> context = make_context(settings);
    ASSERT_NE(context, nullptr);

    connected without(context); // tls_client presents no certificate
    EXPECT_EQ(without.x.server, result::failed);
    EXPECT_FALSE(without.server.established());
    EXPECT_FALSE(without.server.error().empty());

    ctx_ptr ctx = raw();
    use_client_certificate(ctx.get(), files().client);
    raw_peer client(ctx.get(), "localhost");
    net::tls_server_session server(context);
    exchange x;
    pump(client, server, x);
    EXPECT_TRUE(x.client_ok);
    EXPECT_EQ(x.server, result::ok) << server.error();
    EXPECT_TRUE(server.established());

    ctx_ptr stranger_ctx = raw();
    use_client_certificate(stranger_ctx.get(), files().stranger);
    raw_peer stranger(stranger_ctx.get(), "localhost");
    net::tls_server_session refusing(context);
    exchange y;
    pump(stranger, refusing, y);
    EXPECT_EQ(y.server, result::failed);
    EXPECT_FALSE(refusing.established());
}

// ---------------------------------------------------------------------------------------------
// Resumption

// Connects a raw client, resuming `previous` when given; returns the session to resume next.
session_ptr connect_raw(const std::shared_ptr<const net::tls_server_context>& context, SSL_CTX* ctx,
                        const char* sni, SSL_SESSION* previous, bool& reused) {
    raw_peer client(ctx, sni);
    if (previous != nullptr) {
        EXPECT_EQ(SSL_set_session(client.ssl(), previous), 1);
    }
    net::tls_server_session server(context);
    exchange x;
    pump(client, server, x); // also carries the session tickets
    EXPECT_TRUE(x.client_ok);
    EXPECT_EQ(x.server, result::ok) << server.error();
    EXPECT_TRUE(server.established());
    reused = SSL_session_reused(client.ssl()) == 1;
    (void)SSL_shutdown(client.ssl()); // a session freed without close_notify is marked not resumable
    return session_ptr(SSL_get1_session(client.ssl()));
}

void expect_resumption(const std::shared_ptr<const net::tls_server_context>& context, SSL_CTX* ctx,
                       const char* sni = "localhost") {
    bool reused = false;
    session_ptr first = connect_raw(context, ctx, sni, nullptr, reused);
    EXPECT_FALSE(reused);
    ASSERT_NE(first, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(first.get()), 1);
    session_ptr second = connect_raw(context, ctx, sni, first.get(), reused);
    EXPECT_TRUE(reused) << sni;
}

TEST_F(tls_server, a_returning_client_resumes_its_session) {
    std::shared_ptr<const net::tls_server_context> context = localhost_context();
    expect_resumption(context, raw().get());
    expect_resumption(context, raw(TLS1_2_VERSION).get());
    std::shared_ptr<const net::tls_server_context> sni = sni_context(); // a certificate SNI chose
    expect_resumption(sni, raw().get(), "other.test");
    expect_resumption(sni, raw(TLS1_2_VERSION).get(), "a.wild.test");
}

TEST_F(tls_server, a_returning_client_with_a_certificate_resumes_its_session) {
    config::tls_settings settings = settings_with({files().localhost});
    settings.client_ca_file = files().ca;
    std::shared_ptr<const net::tls_server_context> context = make_context(settings);
    ASSERT_NE(context, nullptr);
    for (int max_version : {0, TLS1_2_VERSION}) {
        ctx_ptr ctx = raw(max_version);
        use_client_certificate(ctx.get(), files().client);
        expect_resumption(context, ctx.get());
    }
}

// ---------------------------------------------------------------------------------------------
// The context: loading, errors, description

TEST_F(tls_server, a_missing_certificate_or_key_file_is_named) {
    const config::tls_certificate missing_cert{files().dir + "/missing.pem", files().localhost.key_file, ""};
    std::string error = context_error(settings_with({missing_cert}));
    EXPECT_NE(error.find(missing_cert.cert_file), std::string::npos) << error;
    const config::tls_certificate missing_key{files().localhost.cert_file, files().dir + "/missing.key", ""};
    error = context_error(settings_with({files().localhost, missing_key})); // the second one
    EXPECT_NE(error.find(missing_key.key_file), std::string::npos) << error;
}

TEST_F(tls_server, files_that_are_not_pem_are_named) {
    const std::string junk = files().dir + "/junk.pem";
    std::FILE* f = std::fopen(junk.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not a certificate\n", f);
    std::fclose(f);
    std::string error = context_error(settings_with({{junk, files().localhost.key_file, ""}}));
    EXPECT_NE(error.find(junk), std::string::npos) << error;
    error = context_error(settings_with({{files().localhost.cert_file, junk, ""}}));
    EXPECT_NE(error.find(junk), std::string::npos) << error;
}

TEST_F(tls_server, a_key_of_another_certificate_is_named_with_the_certificate) {
    const config::tls_certificate mixed{files().localhost.cert_file, files().other.key_file, ""};
    std::string error = context_error(settings_with({mixed}));
    EXPECT_NE(error.find("does not match"), std::string::npos) << error;
    EXPECT_NE(error.find(mixed.key_file), std::string::npos) << error;
    EXPECT_NE(error.find(mixed.cert_file), std::string::npos) << error;
}

TEST_F(tls_server, an_encrypted_key_loads_with_its_passphrase_only) {
    config::tls_certificate encrypted{files().localhost.cert_file, files().localhost_encrypted_key,
                                      passphrase};
    std::shared_ptr<const net::tls_server_context> context = make_context(settings_with({encrypted}));
    ASSERT_NE(context, nullptr);
    connected c(context);
    EXPECT_TRUE(c.server.established()) << c.server.error();

    encrypted.passphrase = "";
    std::string error = context_error(settings_with({encrypted}));
    EXPECT_NE(error.find(encrypted.key_file), std::string::npos) << error;
    EXPECT_NE(error.find("passphrase"), std::string::npos) << error;
    encrypted.passphrase = "open sesame!";
    error = context_error(settings_with({encrypted}));
    EXPECT_NE(error.find(encrypted.key_file), std::string::npos) << error;
    EXPECT_NE(error.find("passphrase"), std::string::npos) << error;
}

TEST_F(tls_server, a_cipher_list_naming_no_cipher_is_named) {
    config::tls_settings settings = settings_with({files().localhost});
    settings.ciphers = "NOT-A-CIPHER:NOR-THIS";
    std::string error = context_error(settings);
    EXPECT_NE(error.find("NOT-A-CIPHER:NOR-THIS"), std::string::npos) << error;
}

TEST_F(tls_server, no_certificate_or_an_unreadable_client_ca_is_an_error) {
    EXPECT_NE(context_error(config::tls_settings{}).find("no certificate"), std::string::npos);
    config::tls_settings settings = settings_with({files().localhost});
    settings.client_ca_file = files().dir + "/missing-ca.pem";
    std::string error = context_error(settings);
    EXPECT_NE(error.find(settings.client_ca_file), std::string::npos) << error;
}

TEST_F(tls_server, the_context_describes_its_names_and_the_default_serial) {
    std::shared_ptr<const net::tls_server_context> one = localhost_context();
    ASSERT_NE(one, nullptr);
    EXPECT_EQ(one->describe(), "TLS 1.2+, certificate for localhost");
    EXPECT_EQ(one->default_serial(), "5EED01");

    std::shared_ptr<const net::tls_server_context> three = sni_context();
    ASSERT_NE(three, nullptr);
    std::string text = three->describe();
    EXPECT_TRUE(text.starts_with("TLS 1.2+, certificates for localhost")) << text;
    EXPECT_NE(text.find("other.test"), std::string::npos) << text;
    EXPECT_NE(text.find("*.wild.test"), std::string::npos) << text;
    EXPECT_EQ(three->default_serial(), "5EED01");

    // Without subjectAltName the common name is the name; the first certificate is the default.
    std::shared_ptr<const net::tls_server_context> cn =
        make_context(settings_with({files().client, files().other}));
    ASSERT_NE(cn, nullptr);
    EXPECT_EQ(cn->describe(), "TLS 1.2+, certificates for client.test; other.test");
    EXPECT_EQ(cn->default_serial(), "0904");
}

TEST_F(tls_server, a_session_keeps_its_context_alive) {
    std::shared_ptr<const net::tls_server_context> context = localhost_context();
    std::weak_ptr<const net::tls_server_context> watch = context;
    auto server = std::make_unique<net::tls_server_session>(std::move(context));
    EXPECT_FALSE(watch.expired()); // a reload dropped the slot's reference
    library_peer client(files().ca, "localhost");
    exchange x;
    pump(client, *server, x);
    EXPECT_TRUE(server->established()) << server->error();
    server.reset();
    EXPECT_TRUE(watch.expired());
}

} // namespace
