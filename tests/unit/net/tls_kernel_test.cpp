// Kernel TLS in the server session, without a kernel that has it: OpenSSL's hand-over of its
// sending keys to our BIO (when offered, and for a cipher the kernel has), the order the output
// must leave in (what OpenSSL encrypted first, the keys only after it, then OpenSSL's own records
// with their types), and the failures (a kernel that refuses the keys, a client's key update).
// A fake kernel takes the keys and encrypts TLS 1.3 records as Linux's tls module does, so a real
// OpenSSL client proves the keys, the sequence numbers and the order right.
#include "ringcast/net/kernel_tls.h"
#include "ringcast/net/tls_server.h"

#include <gtest/gtest.h>
#include <linux/tls.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace config = ringcast::config;
namespace net = ringcast::net;
using result = net::tls_server_session::result;

namespace {

// A self-signed P-256 certificate for localhost in a temporary directory.
config::tls_settings self_signed(const std::string& dir) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                               -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    config::tls_certificate files{dir + "/cert.pem", dir + "/key.pem", ""};
    std::FILE* f = std::fopen(files.cert_file.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(files.key_file.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    config::tls_settings settings;
    settings.certificates = {files};
    return settings;
}

// What Linux's tls module does with TLS 1.3 AES-128-GCM sending keys, for one connection.
struct fake_kernel {
    tls12_crypto_info_aes_gcm_128 info{};
    std::uint64_t seq = 0;
    bool has_keys = false;
    int refuse = 0; // an errno to answer the keys with

    // One record of `type` holding `plain` (at most 16 KiB), as it leaves the socket.
    std::string seal(std::uint8_t type, std::string_view plain) {
        unsigned char nonce[12];
        std::memcpy(nonce, info.salt, 4);
        std::memcpy(nonce + 4, info.iv, 8);
        for (int i = 0; i < 8; ++i) {
            nonce[4 + i] ^= static_cast<unsigned char>(seq >> (56 - 8 * i));
        }
        ++seq;
        std::string inner = std::string(plain) + static_cast<char>(type);
        std::size_t length = inner.size() + 16;
        unsigned char header[5] = {23, 3, 3, static_cast<unsigned char>(length >> 8),
                                   static_cast<unsigned char>(length)};
        std::string out(reinterpret_cast<char*>(header), 5);
        out.resize(5 + length);
        auto* sealed = reinterpret_cast<unsigned char*>(out.data() + 5);
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        int n = 0;
        EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, info.key, nonce);
        EVP_EncryptUpdate(ctx, nullptr, &n, header, 5); // the header is the additional data
        EVP_EncryptUpdate(ctx, sealed, &n, reinterpret_cast<const unsigned char*>(inner.data()),
                          static_cast<int>(inner.size()));
        EVP_EncryptFinal_ex(ctx, sealed + n, &n);
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, sealed + inner.size());
        EVP_CIPHER_CTX_free(ctx);
        return out;
    }
};

fake_kernel kernel; // the one the key taker below gives to

int take_keys(int /*fd*/, const void* crypto_info, std::size_t size) noexcept {
    if (kernel.refuse != 0) {
        return kernel.refuse;
    }
    if (size != sizeof kernel.info) {
        return EINVAL;
    }
    std::memcpy(&kernel.info, crypto_info, size);
    kernel.seq = 0;
    for (unsigned char byte : kernel.info.rec_seq) {
        kernel.seq = kernel.seq << 8 | byte;
    }
    kernel.has_keys = true;
    return 0;
}

// An OpenSSL client over memory BIOs.
struct client {
    explicit client(int version, const char* suites = "TLS_AES_128_GCM_SHA256") {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, version);
        SSL_CTX_set_max_proto_version(ctx, version);
        SSL_CTX_set_ciphersuites(ctx, suites);
        SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
        ssl = SSL_new(ctx);
        in = BIO_new(BIO_s_mem());
        out = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl, in, out);
        SSL_set_connect_state(ssl);
        SSL_set_tlsext_host_name(ssl, "localhost");
    }
    ~client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    std::string take() {
        (void)SSL_do_handshake(ssl);
        std::string bytes;
        char buf[4096];
        int n;
        while ((n = BIO_read(out, buf, sizeof buf)) > 0) {
            bytes.append(buf, static_cast<std::size_t>(n));
        }
        return bytes;
    }
    void give(std::string_view bytes) { BIO_write(in, bytes.data(), static_cast<int>(bytes.size())); }
    // Reads what it can; `closed` once close_notify came.
    std::string read(bool& closed) {
        std::string plain;
        char buf[4096];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
            plain.append(buf, static_cast<std::size_t>(n));
        }
        closed = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
        ERR_clear_error();
        return plain;
    }

    SSL_CTX* ctx;
    SSL* ssl;
    BIO* in;
    BIO* out;
};

// Everything the session would send in the user-space way (no record types).
std::string drain(net::tls_server_session& s) {
    std::string out;
    while (s.has_output()) {
        EXPECT_EQ(s.next_record_type(), 0);
        std::string_view piece = s.next_output();
        EXPECT_EQ(s.next_record_type(), 0);
        out.append(piece);
        s.consume(piece.size());
    }
    return out;
}

// Everything the session would send once the kernel has the keys, as the kernel sends it.
std::string drain_through_kernel(net::tls_server_session& s, std::vector<int>& types) {
    std::string out;
    while (s.has_output()) {
        std::string_view piece = s.next_output();
        types.push_back(s.next_record_type());
        out += kernel.seal(s.next_record_type(), piece);
        s.consume(piece.size());
    }
    return out;
}

unsigned all_kernel_ciphers() {
    return net::kernel_cipher_bit(TLS_CIPHER_AES_GCM_128) | net::kernel_cipher_bit(TLS_CIPHER_AES_GCM_256) |
           net::kernel_cipher_bit(TLS_CIPHER_CHACHA20_POLY1305);
}

class tls_kernel : public testing::Test {
protected:
    static void SetUpTestSuite() {
        char dir[] = "/tmp/ringcast-ktls-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        dir_ = dir;
        std::string error;
        context_ = net::tls_server_context::create(self_signed(dir_), error);
        ASSERT_NE(context_, nullptr) << error;
    }
    static void TearDownTestSuite() {
        context_.reset();
        std::filesystem::remove_all(dir_);
    }
    void SetUp() override { kernel = fake_kernel{}; }

    // The client's first flight to the server, and the server's answer back.
    static void hello(client& c, net::tls_server_session& s) {
        std::string plain;
        ASSERT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
        c.give(drain(s));
    }

    inline static std::string dir_;
    inline static std::shared_ptr<const net::tls_server_context> context_;
};

} // namespace

TEST_F(tls_kernel, tls_1_3_keys_wait_for_the_handshake_output_then_the_kernel_sends_every_record) {
    client c(TLS1_3_VERSION);
    net::tls_server_session s(context_);
    s.offer_kernel_send(all_kernel_ciphers());
    std::string plain;
    ASSERT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
    // OpenSSL gave the keys with its Finished, which is still ours to send, encrypted.
    EXPECT_TRUE(s.kernel_send());
    EXPECT_TRUE(s.has_output());
    EXPECT_FALSE(s.kernel_switch_due());
    c.give(drain(s));
    EXPECT_TRUE(s.kernel_switch_due());

    ASSERT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
    ASSERT_TRUE(s.established());
    EXPECT_FALSE(s.has_output()); // the session tickets wait for the kernel
    ASSERT_EQ(s.start_kernel_send(3, take_keys), 0);
    EXPECT_TRUE(kernel.has_keys);
    EXPECT_TRUE(s.kernel_on());
    EXPECT_FALSE(s.kernel_switch_due());

    std::vector<int> types;
    std::string wire = drain_through_kernel(s, types);
    // The write queue's frames go as they are: the kernel makes application data of them.
    wire += kernel.seal(23, "frame one;");
    wire += kernel.seal(23, "frame two");
    s.close_notify();
    wire += drain_through_kernel(s, types);
    EXPECT_EQ(types, (std::vector<int>{22, 22, 21})); // two tickets, then close_notify

    c.give(wire);
    bool closed = false;
    EXPECT_EQ(c.read(closed), "frame one;frame two");
    EXPECT_TRUE(closed);
    SSL_SESSION* ticket = SSL_get1_session(c.ssl);
    EXPECT_EQ(SSL_SESSION_is_resumable(ticket), 1);
    SSL_SESSION_free(ticket);
}

TEST_F(tls_kernel, tls_1_2_hands_over_with_its_finished_left_for_the_kernel) {
    client c(TLS1_2_VERSION);
    net::tls_server_session s(context_);
    s.offer_kernel_send(all_kernel_ciphers());
    hello(c, s);
    EXPECT_FALSE(s.kernel_send());
    std::string plain;
    ASSERT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
    ASSERT_TRUE(s.established());
    ASSERT_TRUE(s.kernel_send());
    std::string before = drain(s); // the ticket and ChangeCipherSpec: before the switch
    EXPECT_FALSE(before.empty());
    ASSERT_EQ(s.start_kernel_send(3, take_keys), 0);
    std::vector<int> types;
    while (s.has_output()) {
        std::string_view piece = s.next_output();
        types.push_back(s.next_record_type());
        EXPECT_EQ(static_cast<unsigned char>(piece[0]), 20); // the Finished message, in the clear
        s.consume(piece.size());
    }
    EXPECT_EQ(types, std::vector<int>{22});
}

TEST_F(tls_kernel, without_the_offer_or_for_a_cipher_the_kernel_lacks_openssl_keeps_encrypting) {
    for (unsigned offered : {0U, net::kernel_cipher_bit(TLS_CIPHER_CHACHA20_POLY1305)}) {
        client c(TLS1_3_VERSION);
        net::tls_server_session s(context_);
        s.offer_kernel_send(offered);
        hello(c, s);
        std::string plain;
        ASSERT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
        ASSERT_TRUE(s.established());
        EXPECT_FALSE(s.kernel_send()) << offered;
        std::string frame = "in user space";
        iovec iov{frame.data(), frame.size()};
        ASSERT_TRUE(s.encrypt(&iov, 1));
        c.give(drain(s));
        bool closed = false;
        EXPECT_EQ(c.read(closed), frame);
    }
}

TEST_F(tls_kernel, a_kernel_that_refuses_the_keys_breaks_the_session_and_nothing_more_leaves) {
    client c(TLS1_3_VERSION);
    net::tls_server_session s(context_);
    s.offer_kernel_send(all_kernel_ciphers());
    hello(c, s);
    std::string plain;
    ASSERT_EQ(s.receive(c.take(), plain), result::ok);
    kernel.refuse = ENOPROTOOPT;
    EXPECT_EQ(s.start_kernel_send(3, take_keys), ENOPROTOOPT);
    EXPECT_TRUE(s.broken());
    EXPECT_NE(s.error().find("the kernel refused the TLS sending keys"), std::string::npos) << s.error();
    EXPECT_FALSE(s.has_output()); // the tickets are plaintext now: never sent as they are
    EXPECT_FALSE(s.kernel_switch_due());
}

// OpenSSL answers a KeyUpdate request with its next SSL_write, which kernel TLS never makes: our
// sending keys stay those the kernel has, and a TLS 1.3 client reads them until our KeyUpdate.
TEST_F(tls_kernel, a_key_update_the_client_asks_for_leaves_our_keys_and_the_session_going) {
    client c(TLS1_3_VERSION);
    net::tls_server_session s(context_);
    s.offer_kernel_send(all_kernel_ciphers());
    hello(c, s);
    std::string plain;
    ASSERT_EQ(s.receive(c.take(), plain), result::ok);
    ASSERT_EQ(s.start_kernel_send(3, take_keys), 0);
    std::vector<int> types;
    c.give(drain_through_kernel(s, types));
    bool closed = false;
    (void)c.read(closed);
    ASSERT_EQ(SSL_key_update(c.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    ASSERT_EQ(SSL_write(c.ssl, "hi", 2), 2);
    EXPECT_EQ(s.receive(c.take(), plain), result::ok) << s.error();
    EXPECT_EQ(plain, "hi"); // read with the client's new keys
    EXPECT_FALSE(s.has_output());
    c.give(kernel.seal(23, "still ours"));
    EXPECT_EQ(c.read(closed), "still ours");
}

TEST_F(tls_kernel, the_context_says_how_its_listener_sends) {
    std::string error;
    config::tls_settings settings = self_signed(dir_);
    settings.ktls = false;
    auto off = net::tls_server_context::create(settings, error);
    ASSERT_NE(off, nullptr) << error;
    EXPECT_FALSE(off->kernel_tls().usable());
    EXPECT_NE(off->describe_sending().find("encryption in user space"), std::string::npos);
    EXPECT_NE(off->describe_sending().find("--tls-ktls off"), std::string::npos);
    // auto: whatever this kernel can do, said either way.
    const net::kernel_tls_support& here = context_->kernel_tls();
    EXPECT_TRUE(here.usable() || !here.why_not.empty());
    EXPECT_NE(context_->describe_sending().find(here.usable() ? "kernel TLS" : "encryption in user space"),
              std::string::npos)
        << context_->describe_sending();
}
