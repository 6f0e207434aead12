// OpenSSL client sessions over memory BIOs (see tls_client.h).
#include "ringcast/net/tls_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace ringcast::net {

namespace {

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) {
            out += "; ";
        }
        out += buf;
    }
    return out;
}

} // namespace

std::unique_ptr<tls_context> tls_context::create(bool insecure, const std::string& ca_file,
                                                 std::string& error) {
    std::unique_ptr<tls_context> c(new tls_context());
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    if (c->ctx_ == nullptr) {
        error = "SSL_CTX_new: " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
    c->verify_ = !insecure;
    if (insecure) {
        SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_NONE, nullptr);
        return c;
    }
    int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(c->ctx_)
                             : SSL_CTX_load_verify_locations(c->ctx_, ca_file.c_str(), nullptr);
    if (ok != 1) {
        error = "cannot load CA certificates" + (ca_file.empty() ? std::string() : " from " + ca_file) +
                ": " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    return c;
}

tls_context::~tls_context() {
    SSL_CTX_free(ctx_);
}

tls_session::~tls_session() {
    SSL_free(ssl_); // frees both BIOs too
}

bool tls_session::start(const tls_context& context, const std::string& host) {
    ssl_ = SSL_new(context.get());
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
        BIO_free(in_);
        BIO_free(out_);
        in_ = out_ = nullptr;
        error_ = "cannot create a TLS session: " + openssl_errors();
        return false;
    }
    // An empty memory BIO means "no data yet" (retry), not end of file.
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (context.verifies() && SSL_set1_host(ssl_, host.c_str()) != 1) {
        error_ = "cannot set the host name to verify";
        return false;
    }
    return drive_handshake();
}

bool tls_session::fail(const char* where, int rc) {
    int code = SSL_get_error(ssl_, rc);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        return true; // more ciphertext must arrive first
    }
    if (code == SSL_ERROR_ZERO_RETURN) {
        error_ = "TLS: the server closed the session (close_notify)";
        return false;
    }
    error_ = std::string("TLS ") + where + ": ";
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
        error_ += std::string("certificate: ") + X509_verify_cert_error_string(verify);
    } else {
        std::string detail = openssl_errors();
        error_ += detail.empty() ? "error " + std::to_string(code) : detail;
    }
    return false;
}

bool tls_session::drive_handshake() {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
        return fail("handshake", rc);
    }
    established_ = true;
    std::string held;
    held.swap(held_);
    return held.empty() || send(held);
}

bool tls_session::receive(std::string_view cipher, std::string& plain) {
    while (!cipher.empty()) {
        int n = BIO_write(in_, cipher.data(), static_cast<int>(cipher.size()));
        if (n <= 0) {
            error_ = "TLS: cannot buffer received bytes";
            return false;
        }
        cipher.remove_prefix(static_cast<std::size_t>(n));
    }
    if (!established_ && !drive_handshake()) {
        return false;
    }
    if (!established_) {
        return true;
    }
    char buf[16384];
    while (true) {
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n <= 0) {
            return fail("read", n);
        }
        plain.append(buf, static_cast<std::size_t>(n));
    }
}

bool tls_session::send(std::string_view plain) {
    if (!established_) {
        held_.append(plain);
        return true;
    }
    while (!plain.empty()) {
        int n = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
        if (n <= 0) {
            // A memory BIO never blocks a write; anything here is a real failure.
            if (fail("write", n)) {
                error_ = "TLS write: the session wants to renegotiate";
            }
            return false;
        }
        plain.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void tls_session::take_output(std::string& out) {
    char* data = nullptr;
    long n = BIO_get_mem_data(out_, &data);
    if (n > 0) {
        out.append(data, static_cast<std::size_t>(n));
        (void)BIO_reset(out_);
    }
}

} // namespace ringcast::net
