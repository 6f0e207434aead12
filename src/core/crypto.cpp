// OpenSSL-backed digests; see crypto.h for why each exists.
#include "ringcast/core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdexcept>

namespace ringcast::core {

namespace {
std::string to_hex(const unsigned char* p, size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(n * 2, '\0');
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    return out;
}
} // namespace

// OpenSSL 3's one-shot calls (HMAC(), EVP_Digest() with EVP_md5()) look the algorithm up in
// the provider tables and build a context on every call: more than half of what checking a
// publish's signature cost (bench-cost). The algorithms are fetched once per process and each
// thread keeps its contexts; re-initialising a context with another key is cheap.
namespace {
struct fetched {
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
};

const fetched& algorithms() {
    static const fetched f; // freed with the process
    if (f.hmac == nullptr || f.md5 == nullptr || f.sha1 == nullptr) {
        throw std::runtime_error("OpenSSL has no HMAC, MD5 or SHA-1");
    }
    return f;
}

struct thread_contexts {
    EVP_MAC_CTX* hmac = nullptr;
    EVP_MD_CTX* digest = EVP_MD_CTX_new();
    thread_contexts() {
        hmac = EVP_MAC_CTX_new(algorithms().hmac);
        char sha256[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                               OSSL_PARAM_construct_end()};
        if (hmac == nullptr || digest == nullptr || EVP_MAC_CTX_set_params(hmac, params) != 1) {
            throw std::runtime_error("OpenSSL could not make an HMAC-SHA256 or digest context");
        }
    }
    ~thread_contexts() {
        EVP_MAC_CTX_free(hmac);
        EVP_MD_CTX_free(digest);
    }
    thread_contexts(const thread_contexts&) = delete;
    thread_contexts& operator=(const thread_contexts&) = delete;
};

thread_contexts& contexts() {
    thread_local thread_contexts c;
    return c;
}
} // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    EVP_MAC_CTX* ctx = contexts().hmac;
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t len = 0;
    // An empty key is a valid HMAC key; OpenSSL wants a non-null pointer for it.
    static const unsigned char none = 0;
    const auto* k = key.empty() ? &none : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx, k, key.size(), nullptr) != 1 ||
        EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
        EVP_MAC_final(ctx, digest, &len, sizeof digest) != 1) {
        throw std::runtime_error("OpenSSL could not compute an HMAC-SHA256");
    }
    return to_hex(digest, len);
}

namespace {
// `out` holds EVP_MAX_MD_SIZE bytes; returns the digest's length.
unsigned int digest_of(const EVP_MD* md, std::string_view data, unsigned char* out) {
    EVP_MD_CTX* ctx = contexts().digest;
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 || EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &len) != 1) {
        throw std::runtime_error("OpenSSL could not compute a digest");
    }
    return len;
}
} // namespace

std::string md5_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    return to_hex(digest, digest_of(algorithms().md5, data, digest));
}

std::string sha1_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    return to_hex(digest, digest_of(algorithms().sha1, data, digest));
}

std::string sha1_base64(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    (void)digest_of(algorithms().sha1, data, digest);
    unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("OpenSSL could not produce random bytes");
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace ringcast::core
