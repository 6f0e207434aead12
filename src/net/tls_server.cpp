// OpenSSL server sessions carried by the shard's ring (see tls_server.h).
#include "ringcast/net/tls_server.h"

#include <linux/tls.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace ringcast::net {

namespace {

// The reason of the oldest queued OpenSSL error ("no shared cipher"), then the queue is cleared
// (it is per thread: a stale entry would be blamed on the next session).
std::string openssl_reason() {
    unsigned long e = ERR_peek_error();
    std::string out;
    if (e != 0) {
        const char* reason = ERR_reason_error_string(e);
        out = reason != nullptr ? reason : "OpenSSL error " + std::to_string(e);
    }
    ERR_clear_error();
    return out;
}

bool readable(const std::string& file, std::string& error) {
    std::FILE* f = std::fopen(file.c_str(), "r");
    if (f == nullptr) {
        error = "cannot read " + file + ": " + std::strerror(errno);
        return false;
    }
    std::fclose(f);
    return true;
}

// Hands OpenSSL the configured passphrase; without one an encrypted key fails to load instead of
// OpenSSL's default of prompting on the terminal.
int give_passphrase(char* buf, int size, int /*rwflag*/, void* userdata) {
    const auto* pass = static_cast<const std::string*>(userdata);
    if (pass == nullptr || pass->empty() || pass->size() > static_cast<std::size_t>(size)) {
        return 0;
    }
    std::memcpy(buf, pass->data(), pass->size());
    return static_cast<int>(pass->size());
}

// Why a private key did not load: a key of another certificate, or one that could not be read
// (an encrypted key without its passphrase, or the wrong one, reads as "bad decrypt").
std::string key_error(const config::tls_certificate& cert) {
    unsigned long e = ERR_peek_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return "the private key in " + cert.key_file + " does not match the certificate in " + cert.cert_file;
    }
    return "cannot use the private key in " + cert.key_file + ": " + openssl_reason() +
           (cert.passphrase.empty() ? " (if it is encrypted, give its passphrase)"
                                    : " (is the passphrase right?)");
}

// ALPN: HTTP/1.1 is what the WebSocket upgrade and the HTTP API speak. A client offering only
// something else (h2) goes on without ALPN rather than failing.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void* /*arg*/) {
    static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return out;
}

// The DNS names a certificate is for: its subjectAltName entries, else its common name.
std::vector<std::string> names_of(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS) {
            const unsigned char* p = ASN1_STRING_get0_data(g->d.dNSName);
            names.push_back(lower({reinterpret_cast<const char*>(p),
                                   static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName))}));
        }
    }
    GENERAL_NAMES_free(sans);
    if (names.empty()) {
        X509_NAME* subject = X509_get_subject_name(cert);
        int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (at >= 0) {
            ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
            names.push_back(lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                                   static_cast<std::size_t>(ASN1_STRING_length(cn))}));
        }
    }
    return names;
}

// "*.example.com" covers exactly one more label: a.example.com, not example.com or a.b.example.com.
bool name_matches(std::string_view pattern, std::string_view host) {
    if (pattern == host) {
        return true;
    }
    if (!pattern.starts_with("*.")) {
        return false;
    }
    std::size_t dot = host.find('.');
    return dot != std::string_view::npos && dot > 0 && host.substr(dot) == pattern.substr(1);
}

// OpenSSL 3.0's BIO controls for kernel TLS that it keeps internal (include/internal/bio.h);
// only BIO_CTRL_GET_KTLS_SEND/RECV are public. OpenSSL's socket BIO answers them by calling the
// kernel at once; ours defers that to the shard (see tls_server.h).
constexpr int bio_ctrl_set_ktls = 72;
constexpr int bio_ctrl_set_ktls_tx_send_ctrl_msg = 74;
constexpr int bio_ctrl_clear_ktls_tx_ctrl_msg = 75;
constexpr std::uint8_t application_data = 23; // the TLS record type of application data

// The size of the kernel's crypto info for `cipher`, 0 for one we never hand over.
std::size_t crypto_info_size(unsigned cipher) noexcept {
    switch (cipher) {
    case TLS_CIPHER_AES_GCM_128:
        return sizeof(tls12_crypto_info_aes_gcm_128);
    case TLS_CIPHER_AES_GCM_256:
        return sizeof(tls12_crypto_info_aes_gcm_256);
    case TLS_CIPHER_CHACHA20_POLY1305:
        return sizeof(tls12_crypto_info_chacha20_poly1305);
    default:
        return 0;
    }
}

std::string kernel_cipher_names(unsigned ciphers) {
    static const std::pair<unsigned, const char*> names[] = {
        {TLS_CIPHER_AES_GCM_128, "AES-128-GCM"},
        {TLS_CIPHER_AES_GCM_256, "AES-256-GCM"},
        {TLS_CIPHER_CHACHA20_POLY1305, "ChaCha20-Poly1305"}};
    std::string out;
    for (const auto& [cipher, name] : names) {
        if ((ciphers & kernel_cipher_bit(cipher)) != 0) {
            out += (out.empty() ? "" : ", ") + std::string(name);
        }
    }
    return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The context

std::shared_ptr<const tls_server_context> tls_server_context::create(const config::tls_settings& settings,
                                                                     std::string& error) {
    std::shared_ptr<tls_server_context> c(new tls_server_context());
    c->min_version_ = settings.min_version;
    for (const config::tls_certificate& cert : settings.certificates) {
        if (!c->add_certificate(settings, cert, error)) {
            return nullptr;
        }
    }
    if (c->contexts_.empty()) {
        error = "TLS is on but no certificate is configured";
        return nullptr;
    }
    SSL_CTX_set_tlsext_servername_callback(c->contexts_.front(), on_server_name);
    SSL_CTX_set_tlsext_servername_arg(c->contexts_.front(), c.get());
    if (settings.ktls) {
        c->kernel_ = probe_kernel_tls();
    } else {
        c->kernel_.why_not = "turned off (--tls-ktls off)";
    }
    return c;
}

bool tls_server_context::add_certificate(const config::tls_settings& settings,
                                         const config::tls_certificate& cert, std::string& error) {
    if (!readable(cert.cert_file, error) || !readable(cert.key_file, error)) {
        return false;
    }
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    if (c == nullptr) {
        error = "cannot create a TLS context: " + openssl_reason();
        return false;
    }
    contexts_.push_back(c); // freed by the destructor whatever happens next
    SSL_CTX_set_min_proto_version(c, settings.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    // No renegotiation (a client could make us redo handshakes at will); compression is off in
    // OpenSSL 3 already. No server-side session cache: it is one locked table shared by every
    // shard. TLS 1.3 tickets still let a returning browser resume without a full handshake.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    // Without a session id context, OpenSSL fails the whole handshake of a client that offers a
    // ticket while client certificates are verified ("session id context uninitialized"). One
    // value for every certificate: the SNI switch keeps it.
    static const unsigned char session_context[] = "ringcast";
    SSL_CTX_set_session_id_context(c, session_context, sizeof session_context - 1);
    // An idle connection gives back OpenSSL's read and write buffers (~34 KiB).
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
    if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(c, settings.ciphers.c_str()) != 1) {
        error = "the TLS cipher list \"" + settings.ciphers + "\" names no cipher OpenSSL knows";
        ERR_clear_error();
        return false;
    }
    SSL_CTX_set_default_passwd_cb(c, give_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(c, const_cast<std::string*>(&cert.passphrase));
    bool loaded = SSL_CTX_use_certificate_chain_file(c, cert.cert_file.c_str()) == 1;
    if (!loaded) {
        error = "cannot use the certificate chain in " + cert.cert_file + ": " + openssl_reason();
    } else if (SSL_CTX_use_PrivateKey_file(c, cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = key_error(cert);
        loaded = false;
    } else if (SSL_CTX_check_private_key(c) != 1) {
        error =
            "the private key in " + cert.key_file + " does not match the certificate in " + cert.cert_file;
        ERR_clear_error();
        loaded = false;
    }
    SSL_CTX_set_default_passwd_cb_userdata(c, nullptr); // `cert` does not outlive this call
    if (!loaded) {
        return false;
    }
    if (!settings.client_ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(c, settings.client_ca_file.c_str(), nullptr) != 1) {
            error = "cannot read the client CA file " + settings.client_ca_file + ": " + openssl_reason();
            return false;
        }
        SSL_CTX_set_client_CA_list(c, SSL_load_client_CA_file(settings.client_ca_file.c_str()));
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    names_.push_back(names_of(SSL_CTX_get0_certificate(c)));
    return true;
}

tls_server_context::~tls_server_context() {
    for (SSL_CTX* c : contexts_) {
        SSL_CTX_free(c);
    }
}

SSL_CTX* tls_server_context::context_for(std::string_view host) const noexcept {
    std::string wanted = lower(host);
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
        for (const std::string& name : names_[i]) {
            if (name_matches(name, wanted)) {
                return contexts_[i];
            }
        }
    }
    return contexts_.front();
}

int tls_server_context::on_server_name(SSL* ssl, int* /*alert*/, void* self) {
    const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (host == nullptr) {
        return SSL_TLSEXT_ERR_NOACK; // no SNI: the default certificate
    }
    SSL_CTX* target = static_cast<const tls_server_context*>(self)->context_for(host);
    if (target != SSL_get_SSL_CTX(ssl)) {
        SSL_set_SSL_CTX(ssl, target);
    }
    return SSL_TLSEXT_ERR_OK;
}

std::string tls_server_context::describe() const {
    std::string out = "TLS " + min_version_ + "+, certificate";
    out += contexts_.size() == 1 ? " for " : "s for ";
    for (std::size_t i = 0; i < names_.size(); ++i) {
        out += i == 0 ? "" : "; ";
        for (std::size_t k = 0; k < names_[i].size(); ++k) {
            out += (k == 0 ? "" : ", ") + names_[i][k];
        }
        if (names_[i].empty()) {
            out += "(no DNS name)";
        }
    }
    return out;
}

std::string tls_server_context::describe_sending() const {
    if (kernel_.usable()) {
        return "kernel TLS after the handshake (" + kernel_cipher_names(kernel_.ciphers) +
               "; other ciphers encrypted in user space)";
    }
    return "encryption in user space, batched per send (no kernel TLS: " + kernel_.why_not + ")";
}

std::string tls_server_context::default_serial() const {
    const ASN1_INTEGER* serial = X509_get0_serialNumber(SSL_CTX_get0_certificate(contexts_.front()));
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    char* hex = bn != nullptr ? BN_bn2hex(bn) : nullptr;
    std::string out = hex != nullptr ? hex : "?";
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

// ---------------------------------------------------------------------------------------------
// The session's BIO: reads from the receive buffer in hand, writes to the session's output.

struct session_bio {
    static int write(BIO* b, const char* data, int len) {
        static_cast<tls_server_session*>(BIO_get_data(b))->write(data, static_cast<std::size_t>(len));
        return len;
    }
    static int read(BIO* b, char* data, int len) {
        auto* s = static_cast<tls_server_session*>(BIO_get_data(b));
        BIO_clear_retry_flags(b);
        if (s->input_.empty()) {
            BIO_set_retry_read(b); // not the end: more arrives with the next completion
            return -1;
        }
        std::size_t n = std::min(s->input_.size(), static_cast<std::size_t>(len));
        std::memcpy(data, s->input_.data(), n);
        s->input_.remove_prefix(n);
        return static_cast<int>(n);
    }
    static long ctrl(BIO* b, int cmd, long num, void* ptr) {
        auto* s = static_cast<tls_server_session*>(BIO_get_data(b));
        switch (cmd) {
        case BIO_CTRL_FLUSH:
            // The shard sends what was written, in order. OpenSSL flushes before handing its
            // keys over; what it wrote stays ahead of the kernel's records all the same.
            return 1;
        case BIO_CTRL_PENDING:
            return static_cast<long>(s->input_.size());
        case bio_ctrl_set_ktls:
            return s->capture_keys(num != 0, ptr) ? 1 : 0;
        case BIO_CTRL_GET_KTLS_SEND:
            return s->kernel_send() ? 1 : 0;
        case bio_ctrl_set_ktls_tx_send_ctrl_msg:
            s->record_type_ = static_cast<std::uint8_t>(num); // the type of the next write
            return 0;
        case bio_ctrl_clear_ktls_tx_ctrl_msg:
            s->record_type_ = 0;
            return 0;
        default:
            return 0; // BIO_CTRL_GET_KTLS_RECV among them: receiving stays in user space
        }
    }
    static int create(BIO* b) {
        BIO_set_init(b, 1);
        return 1;
    }
    static int destroy(BIO* /*b*/) { return 1; }

    static const BIO_METHOD* method() {
        static BIO_METHOD* m = [] {
            BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringcast tls");
            BIO_meth_set_write(made, write);
            BIO_meth_set_read(made, read);
            BIO_meth_set_ctrl(made, ctrl);
            BIO_meth_set_create(made, create);
            BIO_meth_set_destroy(made, destroy);
            return made;
        }();
        return m;
    }
};

// ---------------------------------------------------------------------------------------------
// The session

tls_server_session::tls_server_session(std::shared_ptr<const tls_server_context> context)
    : context_(std::move(context)) {
    ssl_ = SSL_new(context_->get());
    BIO* bio = ssl_ != nullptr ? BIO_new(session_bio::method()) : nullptr;
    if (bio == nullptr) {
        SSL_free(ssl_);
        ERR_clear_error();
        throw std::bad_alloc();
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio); // one reference, used both ways; freed with the SSL
    SSL_set_accept_state(ssl_);
}

tls_server_session::~tls_server_session() {
    SSL_free(ssl_);
}

tls_server_session::result tls_server_session::receive(std::string_view cipher, std::string& plain) {
    if (broken_) {
        return result::failed;
    }
    ERR_clear_error();
    input_ = cipher;
    for (std::size_t i = 0; first_len_ < first_bytes_.size() && i < cipher.size(); ++i) {
        first_bytes_[first_len_++] = cipher[i];
    }
    result r = established_ ? read_all(plain) : handshake(plain);
    input_ = {};
    if (key_update_refused_ && !broken_) {
        broken_ = true;
        error_ =
            "OpenSSL changed its sending keys (a TLS key update), which the kernel cannot take mid-session";
        return result::failed;
    }
    return r;
}

void tls_server_session::write(const char* data, std::size_t len) {
    if (kernel_ == kernel_state::off) {
        pending_.append(data, len);
        return;
    }
    // After the keys went, each write is the plaintext of one record: OpenSSL announces the
    // type of any but application data just before it (and its socket BIO forgets it after).
    std::uint8_t type = record_type_ != 0 ? record_type_ : application_data;
    record_type_ = 0;
    records_.push_back({type, std::string(data, len)});
}

bool tls_server_session::capture_keys(bool sending, const void* crypto_info) noexcept {
    if (!sending || crypto_info == nullptr) {
        return false; // receiving stays in user space
    }
    if (kernel_ != kernel_state::off) {
        // New sending keys (a TLS 1.3 KeyUpdate): OpenSSL would go on writing plaintext for
        // the kernel, which still has the old ones. Refused, and the session fails (receive()).
        key_update_refused_ = true;
        return false;
    }
    const auto* info = static_cast<const tls_crypto_info*>(crypto_info);
    std::size_t size = crypto_info_size(info->cipher_type);
    if (size == 0 || size > keys_.size() || (kernel_ciphers_ & kernel_cipher_bit(info->cipher_type)) == 0) {
        return false; // OpenSSL encrypts in user space as before
    }
    std::memcpy(keys_.data(), crypto_info, size);
    keys_size_ = size;
    kernel_ = kernel_state::captured;
    return true;
}

void tls_server_session::offer_kernel_send(unsigned kernel_ciphers) noexcept {
    kernel_ciphers_ = kernel_ciphers;
    if (kernel_ciphers != 0) {
        SSL_set_options(ssl_, SSL_OP_ENABLE_KTLS);
    }
}

int tls_server_session::start_kernel_send(int fd, kernel_key_taker give) noexcept {
    int rc = give(fd, keys_.data(), keys_size_);
    OPENSSL_cleanse(keys_.data(), keys_.size());
    keys_size_ = 0;
    if (rc == 0) {
        kernel_ = kernel_state::on;
    } else {
        // OpenSSL already writes plaintext: nothing can be sent safely any more.
        broken_ = true;
        error_ = std::string("the kernel refused the TLS sending keys: ") + std::strerror(rc);
    }
    return rc;
}

tls_server_session::result tls_server_session::handshake(std::string& plain) {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
        return fail(rc);
    }
    established_ = true;
    return read_all(plain); // the HTTP request may have come with the client's Finished
}

tls_server_session::result tls_server_session::read_all(std::string& plain) {
    char buf[16384];
    while (true) {
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n <= 0) {
            return fail(n);
        }
        plain.append(buf, static_cast<std::size_t>(n));
    }
}

// OpenSSL names plain HTTP only for GET, POST, HEAD, PUT and CONNECT. Any request starts with its
// method in capitals and a space (DELETE, OPTIONS, PATCH...), where a TLS record starts with a
// content type byte (0x14-0x18), never a letter.
bool tls_server_session::starts_like_http(std::string_view head) noexcept {
    std::size_t letters = 0;
    while (letters < head.size() && head[letters] >= 'A' && head[letters] <= 'Z') {
        ++letters;
    }
    return letters >= 3 && (letters == head.size() || head[letters] == ' ');
}

tls_server_session::result tls_server_session::fail(int rc) {
    int code = SSL_get_error(ssl_, rc);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        return result::ok;
    }
    if (code == SSL_ERROR_ZERO_RETURN) {
        return result::closed;
    }
    broken_ = true;
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_REASON(e);
    plain_http_ = (ERR_GET_LIB(e) == ERR_LIB_SSL &&
                   (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST)) ||
                  (!established_ && starts_like_http({first_bytes_.data(), first_len_}));
    error_ = openssl_reason();
    if (error_.empty()) {
        error_ = "TLS error " + std::to_string(code);
    }
    return result::failed;
}

bool tls_server_session::encrypt(const iovec* iov, unsigned count) {
    ERR_clear_error();
    std::string_view batch;
    // One frame (the common case in a fan-out) is encrypted where it lies; several are gathered
    // first so they leave as one record instead of a record each.
    thread_local std::string gathered;
    if (count == 1) {
        batch = {static_cast<const char*>(iov[0].iov_base), iov[0].iov_len};
    } else {
        gathered.clear();
        for (unsigned i = 0; i < count; ++i) {
            gathered.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
        }
        batch = gathered;
    }
    if (batch.empty()) {
        return true;
    }
    // Our BIO takes every write whole, so one call encrypts the whole batch.
    int n = SSL_write(ssl_, batch.data(), static_cast<int>(batch.size()));
    if (n <= 0) {
        fail(n);
        return false;
    }
    return true;
}

void tls_server_session::close_notify() {
    if (established_ && !broken_ && !notify_sent_) {
        notify_sent_ = true;
        ERR_clear_error();
        (void)SSL_shutdown(ssl_); // writes close_notify into the output; we do not wait for theirs
        ERR_clear_error();
    }
}

void tls_server_session::replace_output(std::string_view plain) {
    pending_.assign(plain);
}

std::string_view tls_server_session::next_output() {
    if (sent_ == in_flight_.size() && !pending_.empty()) {
        in_flight_ = std::move(pending_);
        pending_ = std::string();
        sent_ = 0;
        in_flight_type_ = 0;
    } else if (sent_ == in_flight_.size() && kernel_ == kernel_state::on && !records_.empty()) {
        in_flight_ = std::move(records_.front().bytes);
        in_flight_type_ = records_.front().type;
        records_.erase(records_.begin()); // a handful at most (tickets, an alert)
        sent_ = 0;
    }
    return std::string_view(in_flight_).substr(sent_);
}

void tls_server_session::consume(std::size_t bytes) noexcept {
    sent_ += bytes;
    if (sent_ >= in_flight_.size()) {
        std::string().swap(in_flight_); // an idle connection keeps no output buffer
        sent_ = 0;
        in_flight_type_ = 0;
        if (records_.empty()) {
            std::vector<record>().swap(records_);
        }
    }
}

std::string tls_server_session::describe() const {
    return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

} // namespace ringcast::net
