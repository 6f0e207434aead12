// OpenSSL-backed digests; see crypto.h for why each exists.
#include "ringcast/core/crypto.h"

#include <cstring>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

// OpenSSL 3's one-shot calls (HMAC(), SHA1(), EVP_Digest() with EVP_md5()) look the algorithm up
// in the provider tables and build a context on every call: more than half of what checking a
// publish's signature or answering an upgrade cost (bench-cost). The algorithms are fetched once
// per process and each thread keeps one digest context.
namespace {
struct fetched {
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
};

const fetched& algorithms() {
    static const fetched f; // freed with the process
    if (f.sha256 == nullptr || f.md5 == nullptr || f.sha1 == nullptr) {
        throw std::runtime_error("OpenSSL has no SHA-256, MD5 or SHA-1");
    }
    return f;
}

struct thread_contexts {
    EVP_MD_CTX* digest = EVP_MD_CTX_new();
    thread_contexts() {
        if (digest == nullptr) {
            throw std::runtime_error("OpenSSL could not make a digest context");
        }
    }
    ~thread_contexts() { EVP_MD_CTX_free(digest); }
    thread_contexts(const thread_contexts&) = delete;
    thread_contexts& operator=(const thread_contexts&) = delete;
};

thread_contexts& contexts() {
    thread_local thread_contexts c;
    return c;
}
} // namespace

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

// HMAC (RFC 2104) over the thread's SHA-256 context: OpenSSL's HMAC and EVP_MAC re-key three
// digest contexts per call, which cost four times the hashing itself for a short message.
std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    constexpr size_t block = 64;
    unsigned char k[block] = {};
    if (key.size() > block) {
        (void)digest_of(algorithms().sha256, key, k);
    } else if (!key.empty()) {
        std::memcpy(k, key.data(), key.size());
    }
    unsigned char pad[block];
    for (size_t i = 0; i < block; ++i) {
        pad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
    }
    EVP_MD_CTX* ctx = contexts().digest;
    unsigned char inner[EVP_MAX_MD_SIZE];
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int inner_len = 0;
    unsigned int out_len = 0;
    bool ok = EVP_DigestInit_ex2(ctx, algorithms().sha256, nullptr) == 1 &&
              EVP_DigestUpdate(ctx, pad, block) == 1 &&
              EVP_DigestUpdate(ctx, message.data(), message.size()) == 1 &&
              EVP_DigestFinal_ex(ctx, inner, &inner_len) == 1;
    for (size_t i = 0; i < block; ++i) {
        pad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
    }
    ok = ok && EVP_DigestInit_ex2(ctx, algorithms().sha256, nullptr) == 1 &&
         EVP_DigestUpdate(ctx, pad, block) == 1 && EVP_DigestUpdate(ctx, inner, inner_len) == 1 &&
         EVP_DigestFinal_ex(ctx, out, &out_len) == 1;
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    if (!ok) {
        throw std::runtime_error("OpenSSL could not compute an HMAC-SHA256");
    }
    return to_hex(out, out_len);
}

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
