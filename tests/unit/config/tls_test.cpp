// TLS configuration (issue 13): the --tls-* flags (certificates, keys and passphrases paired by
// position), RINGCAST_TLS_* and soketi's SSL_* variables (also from a .env file; ours win),
// "server.tls" in the JSON file, which source wins, every refusal naming its source, and TLS
// off by default. No file is opened: the server loads the certificates at start.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

// What a refusal says when no certificate comes with another TLS setting.
const std::string no_certificate = " given but no certificate: set --tls-cert/--tls-key or SSL_CERT/SSL_KEY";

std::string same_port(const std::string& name, const std::string& address) {
    return name + ": the TLS port must differ from the plain one (" + address +
           "); leave it out to serve TLS on the main port";
}

tls_certificate certificate(const std::string& cert, const std::string& key,
                            const std::string& passphrase = "") {
    return tls_certificate{cert, key, passphrase};
}

class tls : public config_files {
protected:
    // The JSON file whose "server.tls" is `object`.
    std::string with_tls(const std::string& object) {
        return write("config.json", R"({"server": {"tls": )" + object + "}}");
    }

    tls_settings loaded(const std::string& object) {
        return started({"start", "--config", with_tls(object)}).tls;
    }

    // The message of a "server.tls" that must fail, without the "FILE: " prefix.
    std::string refused(const std::string& object) {
        std::string json = with_tls(object);
        std::string message = failure({"start", "--config", json});
        EXPECT_EQ(message.rfind(json + ": ", 0), 0u) << message;
        return message.substr(std::min(message.size(), json.size() + 2));
    }
};

// load() as main runs it, with what it logged to stderr.
std::string warnings_of(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    testing::internal::CaptureStderr();
    ringcast::core::result<command_line> r = run(args, env);
    std::string said = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(r.ok()) << r.error().message();
    return said;
}

} // namespace

TEST(tls_defaults, tls_is_off) {
    tls_settings t = started({"start"}).tls;
    EXPECT_FALSE(t.enabled());
    EXPECT_TRUE(t.certificates.empty());
    EXPECT_EQ(t.client_ca_file, "");
    EXPECT_EQ(t.min_version, "1.2");
    EXPECT_EQ(t.ciphers, "");
    EXPECT_EQ(t.host, "");
    EXPECT_EQ(t.port, 0);
    EXPECT_EQ(t.max_handshakes, 1024u);
    EXPECT_TRUE(t.ktls); // auto: kernel TLS wherever the kernel can
    EXPECT_EQ(t, tls_settings{});
}

TEST(tls_flags, every_flag_sets_its_setting) {
    tls_settings t = started({"start",
                              "--tls-cert",
                              "/c.pem",
                              "--tls-key=/k.pem",
                              "--tls-passphrase",
                              "pw",
                              "--tls-client-ca",
                              "/ca.pem",
                              "--tls-min-version",
                              "1.3",
                              "--tls-ciphers",
                              "ECDHE+AESGCM",
                              "--tls-port",
                              "8443",
                              "--tls-host",
                              "127.0.0.1",
                              "--tls-max-handshakes",
                              "64",
                              "--tls-ktls",
                              "off"})
                         .tls;
    EXPECT_TRUE(t.enabled());
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/c.pem", "/k.pem", "pw")});
    EXPECT_EQ(t.client_ca_file, "/ca.pem");
    EXPECT_EQ(t.min_version, "1.3");
    EXPECT_EQ(t.ciphers, "ECDHE+AESGCM");
    EXPECT_EQ(t.port, 8443);
    EXPECT_EQ(t.host, "127.0.0.1");
    EXPECT_EQ(t.max_handshakes, 64u);
    EXPECT_FALSE(t.ktls);
}

TEST(tls_flags, ktls_takes_off_or_auto_in_any_case_and_nothing_else) {
    for (const char* v : {"auto", "AUTO", "off", "Off"}) {
        tls_settings t = started({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-ktls", v}).tls;
        EXPECT_EQ(t.ktls, v[0] == 'a' || v[0] == 'A') << v;
    }
    for (const char* v : {"on", "yes", "", "0"}) {
        EXPECT_EQ(failure({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-ktls", v}),
                  std::string("--tls-ktls: expected off or auto, got \"") + v + "\"");
    }
}

TEST(tls_flags, a_certificate_alone_serves_tls_on_the_main_port_with_the_defaults) {
    server s = started({"start", "--tls-cert", "c.pem", "--tls-key", "k.pem"});
    tls_settings expected;
    expected.certificates = {certificate("c.pem", "k.pem")};
    EXPECT_EQ(s.tls, expected);
    EXPECT_EQ(s.port, 8080);
}

TEST(tls_flags, versions_are_normalised) {
    for (const char* v : {"1.2", "TLSv1.2", "tlsv1.2"}) {
        EXPECT_EQ(
            started({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-min-version", v}).tls.min_version,
            "1.2")
            << v;
    }
    for (const char* v : {"1.3", "TLSv1.3", "TLSV1.3"}) {
        EXPECT_EQ(
            started({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-min-version", v}).tls.min_version,
            "1.3")
            << v;
    }
}

TEST(tls_flags, repeated_certificates_pair_by_position_the_first_being_the_default) {
    tls_settings t = started({"start", "--tls-cert", "a.pem", "--tls-cert", "b.pem", "--tls-key", "a.key",
                              "--tls-cert", "c.pem", "--tls-key", "b.key", "--tls-key", "c.key"})
                         .tls;
    EXPECT_EQ(t.certificates,
              (std::vector<tls_certificate>{certificate("a.pem", "a.key"), certificate("b.pem", "b.key"),
                                            certificate("c.pem", "c.key")}));
}

TEST(tls_flags, one_passphrase_serves_every_key_and_several_pair_by_position) {
    tls_settings one = started({"start", "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-cert", "b.pem",
                                "--tls-key", "b.key", "--tls-passphrase", "pw"})
                           .tls;
    EXPECT_EQ(one.certificates, (std::vector<tls_certificate>{certificate("a.pem", "a.key", "pw"),
                                                              certificate("b.pem", "b.key", "pw")}));
    tls_settings each =
        started({"start", "--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-passphrase=", "--tls-cert",
                 "b.pem", "--tls-key", "b.key", "--tls-passphrase", "pw-b"})
            .tls;
    EXPECT_EQ(each.certificates, (std::vector<tls_certificate>{certificate("a.pem", "a.key", ""),
                                                               certificate("b.pem", "b.key", "pw-b")}));
}

TEST(tls_flags, the_last_of_a_repeated_setting_wins) {
    tls_settings t = started({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-port", "8443",
                              "--tls-port", "9443", "--tls-min-version", "1.3", "--tls-min-version", "1.2"})
                         .tls;
    EXPECT_EQ(t.port, 9443);
    EXPECT_EQ(t.min_version, "1.2");
}

TEST(tls_flags, certificates_keys_and_passphrases_that_do_not_pair_are_refused) {
    EXPECT_EQ(failure({"start", "--tls-cert", "c"}), "--tls-cert: needs --tls-key too");
    EXPECT_EQ(failure({"start", "--tls-key", "k"}), "--tls-key: needs --tls-cert too");
    EXPECT_EQ(
        failure({"start", "--tls-cert", "a", "--tls-cert", "b", "--tls-key", "k"}),
        "--tls-cert given 2 times but --tls-key once: the Nth --tls-key is the key of the Nth --tls-cert");
    EXPECT_EQ(
        failure({"start", "--tls-cert", "a", "--tls-key", "b", "--tls-key", "k"}),
        "--tls-cert given once but --tls-key 2 times: the Nth --tls-key is the key of the Nth --tls-cert");
    EXPECT_EQ(
        failure({"start", "--tls-cert", "a", "--tls-key", "a", "--tls-cert", "b", "--tls-key", "b",
                 "--tls-cert", "c", "--tls-key", "c", "--tls-passphrase", "x", "--tls-passphrase", "y"}),
        "--tls-passphrase given 2 times for 3 certificates: give one for every key, or one per "
        "--tls-cert in their order");
    EXPECT_EQ(failure({"start", "--tls-passphrase", "secret"}),
              "--tls-passphrase: needs --tls-cert and --tls-key too");
}

TEST(tls_flags, bad_values_name_the_flag_and_the_value) {
    const std::pair<std::vector<std::string>, std::string> cases[] = {
        {{"--tls-cert="}, "--tls-cert: expected a certificate chain file (PEM), got \"\""},
        {{"--tls-key="}, "--tls-key: expected a private key file (PEM), got \"\""},
        {{"--tls-min-version", "1.1"},
         "--tls-min-version: expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3), got \"1.1\""},
        {{"--tls-min-version", "TLSv1"},
         "--tls-min-version: expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3), got \"TLSv1\""},
        {{"--tls-port", "0"}, "--tls-port: expected a number from 1 to 65535, got \"0\""},
        {{"--tls-port", "65536"}, "--tls-port: expected a number from 1 to 65535, got \"65536\""},
        {{"--tls-max-handshakes", "0"},
         "--tls-max-handshakes: expected a number from 1 to 4294967295, got \"0\""},
        {{"--tls-host="}, "--tls-host: expected an address to listen on, got \"\""},
    };
    for (const auto& [flag, message] : cases) {
        std::vector<std::string> args{"start", "--tls-cert", "c", "--tls-key", "k"};
        args.insert(args.end(), flag.begin(), flag.end());
        EXPECT_EQ(failure(args), message);
    }
}

TEST(tls_flags, a_missing_value_is_refused) {
    EXPECT_EQ(failure({"start", "--tls-cert"}), "--tls-cert: expected a certificate chain file (PEM)");
    EXPECT_EQ(failure({"start", "--tls-key", "--debug"}), "--tls-key: expected a private key file (PEM)");
    EXPECT_EQ(failure({"start", "--tls-passphrase"}), "--tls-passphrase: expected the passphrase of the key");
}

TEST(tls_flags, restart_takes_them_too) {
    ringcast::core::result<command_line> r =
        run({"restart", "--host", "127.0.0.1", "--tls-cert", "c", "--tls-key", "k"});
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->what, command_line::action::restart);
    EXPECT_TRUE(r->settings.tls.enabled());
}

TEST(tls_env, ringcast_variables_set_every_setting) {
    tls_settings t = started({"start"}, {"RINGCAST_TLS_CERT=/c.pem", "RINGCAST_TLS_KEY=/k.pem",
                                         "RINGCAST_TLS_PASSPHRASE=pw", "RINGCAST_TLS_CLIENT_CA=/ca.pem",
                                         "RINGCAST_TLS_MIN_VERSION=TLSv1.3", "RINGCAST_TLS_CIPHERS=HIGH",
                                         "RINGCAST_TLS_PORT=8443", "RINGCAST_TLS_HOST=::1",
                                         "RINGCAST_TLS_MAX_HANDSHAKES=10", "RINGCAST_TLS_KTLS=off"})
                         .tls;
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/c.pem", "/k.pem", "pw")});
    EXPECT_EQ(t.client_ca_file, "/ca.pem");
    EXPECT_EQ(t.min_version, "1.3");
    EXPECT_EQ(t.ciphers, "HIGH");
    EXPECT_EQ(t.port, 8443);
    EXPECT_EQ(t.host, "::1");
    EXPECT_EQ(t.max_handshakes, 10u);
    EXPECT_FALSE(t.ktls);
}

TEST(tls_env, soketis_ssl_variables_work_and_ssl_ca_asks_for_client_certificates) {
    tls_settings t =
        started({"start"}, {"SSL_CERT=/c.pem", "SSL_KEY=/k.pem", "SSL_PASSPHRASE=pw", "SSL_CA=/ca.pem"}).tls;
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/c.pem", "/k.pem", "pw")});
    EXPECT_EQ(t.client_ca_file, "/ca.pem");
}

TEST(tls_env, ringcast_names_win_over_ssl_ones_each_on_its_own) {
    tls_settings t = started({"start"}, {"SSL_CERT=/ssl.pem", "SSL_KEY=/ssl.key", "SSL_PASSPHRASE=ssl",
                                         "SSL_CA=/ssl-ca.pem", "RINGCAST_TLS_CERT=/rc.pem",
                                         "RINGCAST_TLS_PASSPHRASE=rc", "RINGCAST_TLS_CLIENT_CA=/rc-ca.pem"})
                         .tls;
    // RINGCAST_TLS_KEY is not set: SSL_KEY is read.
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/rc.pem", "/ssl.key", "rc")});
    EXPECT_EQ(t.client_ca_file, "/rc-ca.pem");
}

TEST(tls_env, certificates_keys_and_passphrases_that_do_not_pair_are_refused) {
    EXPECT_EQ(failure({"start"}, {"SSL_CERT=c"}),
              "SSL_CERT: needs a key too: set RINGCAST_TLS_KEY or SSL_KEY");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_TLS_CERT=c"}),
              "RINGCAST_TLS_CERT: needs a key too: set RINGCAST_TLS_KEY or SSL_KEY");
    EXPECT_EQ(failure({"start"}, {"SSL_KEY=k"}),
              "SSL_KEY: needs a certificate too: set RINGCAST_TLS_CERT or SSL_CERT");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_TLS_KEY=k"}),
              "RINGCAST_TLS_KEY: needs a certificate too: set RINGCAST_TLS_CERT or SSL_CERT");
    std::string message = failure({"start"}, {"SSL_PASSPHRASE=hunter2"});
    EXPECT_EQ(message, "SSL_PASSPHRASE: needs a certificate and its key too: set RINGCAST_TLS_CERT and "
                       "RINGCAST_TLS_KEY (or SSL_CERT and SSL_KEY)");
    EXPECT_EQ(failure({"start"}, {"RINGCAST_TLS_PASSPHRASE=hunter2"}).find("hunter2"), std::string::npos);
}

TEST(tls_env, bad_values_name_the_variable_and_the_value) {
    const std::pair<std::string, std::string> cases[] = {
        {"RINGCAST_TLS_MIN_VERSION=1.0",
         "RINGCAST_TLS_MIN_VERSION: expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3), got \"1.0\""},
        {"RINGCAST_TLS_PORT=0", "RINGCAST_TLS_PORT: expected a number from 1 to 65535, got \"0\""},
        {"RINGCAST_TLS_PORT=https", "RINGCAST_TLS_PORT: expected a number from 1 to 65535, got \"https\""},
        {"RINGCAST_TLS_MAX_HANDSHAKES=0",
         "RINGCAST_TLS_MAX_HANDSHAKES: expected a number from 1 to 4294967295, got \"0\""},
        {"RINGCAST_TLS_KTLS=on", "RINGCAST_TLS_KTLS: expected off or auto, got \"on\""},
    };
    for (const auto& [variable, message] : cases) {
        EXPECT_EQ(failure({"start"}, {"SSL_CERT=c", "SSL_KEY=k", variable}), message);
    }
}

TEST(tls_env, empty_values_count_as_unset) {
    EXPECT_EQ(started({"start"}, {"SSL_CERT=", "SSL_KEY=null", "RINGCAST_TLS_PORT="}).tls, tls_settings{});
}

TEST(tls_env, tls_names_are_known_and_misspelt_ones_are_warned_about) {
    std::string quiet = warnings_of(
        {"start"}, {"RINGCAST_TLS_CERT=c", "RINGCAST_TLS_KEY=k", "RINGCAST_TLS_PASSPHRASE=p",
                    "RINGCAST_TLS_CLIENT_CA=ca", "RINGCAST_TLS_MIN_VERSION=1.2", "RINGCAST_TLS_CIPHERS=HIGH",
                    "RINGCAST_TLS_PORT=8443", "RINGCAST_TLS_HOST=0.0.0.0", "RINGCAST_TLS_MAX_HANDSHAKES=5",
                    "SSL_CA=ca", "SSL_CERT_FILE=x"});
    EXPECT_EQ(quiet.find("not a setting"), std::string::npos) << quiet;
    std::string said = warnings_of({"start"}, {"RINGCAST_TLS_CRET=c"});
    EXPECT_NE(
        said.find("environment: RINGCAST_TLS_CRET is not a setting ringcast knows (ignored); did you mean "
                  "RINGCAST_TLS_CERT?"),
        std::string::npos)
        << said;
}

TEST_F(tls, the_dotenv_file_supplies_the_variables_and_the_process_wins) {
    std::string env = write(".env", "SSL_CERT=/file.pem\nSSL_KEY=/file.key\nRINGCAST_TLS_PORT=8443\n"
                                    "RINGCAST_TLS_MIN_VERSION=1.3\n");
    tls_settings t =
        started({"start", "--env", env}, {"SSL_CERT=/process.pem", "RINGCAST_TLS_PORT=9443"}).tls;
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/process.pem", "/file.key")});
    EXPECT_EQ(t.port, 9443);
    EXPECT_EQ(t.min_version, "1.3");
}

TEST_F(tls, a_ringcast_name_in_the_dotenv_file_wins_over_an_ssl_one_in_the_process) {
    std::string env = write(".env", "RINGCAST_TLS_CERT=/rc.pem\nRINGCAST_TLS_KEY=/rc.key\n");
    tls_settings t = started({"start", "--env", env}, {"SSL_CERT=/ssl.pem", "SSL_KEY=/ssl.key"}).tls;
    EXPECT_EQ(t.certificates, std::vector<tls_certificate>{certificate("/rc.pem", "/rc.key")});
}

TEST_F(tls, dotenv_refusals_name_the_file) {
    std::string env = write(".env", "SSL_KEY=k\n");
    EXPECT_EQ(failure({"start", "--env", env}),
              env + ": SSL_KEY: needs a certificate too: set RINGCAST_TLS_CERT or SSL_CERT");
    env = write(".env", "SSL_CERT=c\nSSL_KEY=k\nRINGCAST_TLS_MIN_VERSION=1.1\n");
    EXPECT_EQ(failure({"start", "--env", env}),
              env + ": RINGCAST_TLS_MIN_VERSION: expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3), got \"1.1\"");
}

TEST_F(tls, the_json_file_sets_every_setting) {
    tls_settings t = loaded(R"({"cert": "/a.pem", "key": "/a.key", "passphrase": "pa",
        "certificates": [{"cert": "/b.pem", "key": "/b.key", "passphrase": "pb"}, {"cert": "/c.pem", "key": "/c.key"}],
        "client_ca": "/ca.pem", "min_version": "TLSv1.3", "ciphers": "HIGH", "port": 8443, "host": "10.0.0.1",
        "max_handshakes": 100, "ktls": "off"})");
    EXPECT_EQ(t.certificates, (std::vector<tls_certificate>{certificate("/a.pem", "/a.key", "pa"),
                                                            certificate("/b.pem", "/b.key", "pb"),
                                                            certificate("/c.pem", "/c.key")}));
    EXPECT_EQ(t.client_ca_file, "/ca.pem");
    EXPECT_EQ(t.min_version, "1.3");
    EXPECT_EQ(t.ciphers, "HIGH");
    EXPECT_EQ(t.port, 8443);
    EXPECT_EQ(t.host, "10.0.0.1");
    EXPECT_EQ(t.max_handshakes, 100u);
    EXPECT_FALSE(t.ktls);
}

TEST_F(tls, the_default_certificate_or_the_list_alone_is_enough) {
    EXPECT_EQ(loaded(R"({"cert": "a.pem", "key": "a.key"})").certificates,
              std::vector<tls_certificate>{certificate("a.pem", "a.key")});
    EXPECT_EQ(
        loaded(R"({"certificates": [{"key": "b.key", "cert": "b.pem"}, {"cert": "c.pem", "key": "c.key"}]})")
            .certificates,
        (std::vector<tls_certificate>{certificate("b.pem", "b.key"), certificate("c.pem", "c.key")}));
    EXPECT_EQ(loaded(R"({})"), tls_settings{});
}

TEST_F(tls, json_refusals_name_the_key) {
    const std::pair<std::string, std::string> cases[] = {
        {R"({"cert": "a.pem"})", "server.tls.cert: needs \"key\" too"},
        {R"({"key": "a.key"})", "server.tls.key: needs \"cert\" too"},
        {R"({"passphrase": "secret", "certificates": [{"cert": "b", "key": "b"}]})",
         "server.tls.passphrase: needs \"cert\" and \"key\" too"},
        {R"({"cert": "", "key": "a.key"})", "server.tls.cert: expected a non-empty string"},
        {R"({"cert": "a", "key": "a", "certificates": [{"cert": "b"}]})",
         "server.tls.certificates[0].cert: needs \"key\" too"},
        {R"({"certificates": [{"cert": "b", "key": "b"}, {"key": "c"}]})",
         "server.tls.certificates[1].key: needs \"cert\" too"},
        {R"({"certificates": [{}]})", "server.tls.certificates[0]: expected \"cert\" and \"key\""},
        {R"({"certificates": {"cert": "b", "key": "b"}})",
         "server.tls.certificates: expected an array of {\"cert\": ..., \"key\": ...} objects"},
        {R"({"certificates": ["b.pem"]})", "server.tls.certificates[0]: expected an object"},
        {R"({"certificates": [{"cert": "b", "key": "b", "sni": "x"}]})",
         "unknown key \"server.tls.certificates[0].sni\""},
        {R"({"cert": "a", "key": "a", "min_version": "1.1"})",
         "server.tls.min_version: expected \"1.2\" or \"1.3\" (or \"TLSv1.2\", \"TLSv1.3\")"},
        {R"({"cert": "a", "key": "a", "min_version": 1.3})",
         "server.tls.min_version: expected \"1.2\" or \"1.3\" (or \"TLSv1.2\", \"TLSv1.3\")"},
        {R"({"cert": "a", "key": "a", "port": 0})", "server.tls.port: expected a number from 1 to 65535"},
        {R"({"cert": "a", "key": "a", "port": 70000})", "server.tls.port: expected a number from 1 to 65535"},
        {R"({"cert": "a", "key": "a", "max_handshakes": 0})",
         "server.tls.max_handshakes: expected a number from 1 to 4294967295"},
        {R"({"cert": "a", "key": "a", "host": ""})", "server.tls.host: expected a non-empty string"},
        {R"({"cert": "a", "key": "a", "ktls": false})", "server.tls.ktls: expected \"off\" or \"auto\""},
        {R"({"cert": "a", "key": "a", "ktls": "on"})", "server.tls.ktls: expected \"off\" or \"auto\""},
        {R"({"cert": "a", "key": "a", "client-ca": "ca.pem"})", "unknown key \"server.tls.client-ca\""},
        {R"({"cert": "a", "key": "a", "port": 8443, "port": 9443})", "duplicate key \"server.tls.port\""},
        {R"("on")", "server.tls: expected an object"},
    };
    for (const auto& [object, message] : cases) {
        EXPECT_EQ(refused(object), message) << object;
    }
}

TEST_F(tls, each_source_wins_over_the_ones_below_it) {
    std::string json = with_tls(R"({"cert": "/json.pem", "key": "/json.key", "min_version": "1.2",
        "ciphers": "JSON", "port": 8443, "max_handshakes": 1})");
    std::string env = write(".env", "RINGCAST_TLS_MIN_VERSION=1.3\nRINGCAST_TLS_CIPHERS=DOTENV\n"
                                    "RINGCAST_TLS_PORT=8444\n");
    tls_settings from_json = started({"start", "--config", json}).tls;
    EXPECT_EQ(from_json.ciphers, "JSON");
    EXPECT_EQ(from_json.port, 8443);
    tls_settings from_dotenv = started({"start", "--config", json, "--env", env}).tls;
    EXPECT_EQ(from_dotenv.min_version, "1.3");
    EXPECT_EQ(from_dotenv.ciphers, "DOTENV");
    EXPECT_EQ(from_dotenv.port, 8444);
    EXPECT_EQ(from_dotenv.max_handshakes, 1u);
    tls_settings from_process = started({"start", "--config", json, "--env", env},
                                        {"RINGCAST_TLS_CIPHERS=PROCESS", "RINGCAST_TLS_PORT=8445"})
                                    .tls;
    EXPECT_EQ(from_process.ciphers, "PROCESS");
    EXPECT_EQ(from_process.port, 8445);
    EXPECT_EQ(from_process.min_version, "1.3");
    tls_settings from_flags = started({"start", "--config", json, "--env", env, "--tls-ciphers", "FLAG",
                                       "--tls-min-version", "1.2"},
                                      {"RINGCAST_TLS_CIPHERS=PROCESS", "RINGCAST_TLS_PORT=8445"})
                                  .tls;
    EXPECT_EQ(from_flags.ciphers, "FLAG");
    EXPECT_EQ(from_flags.min_version, "1.2");
    EXPECT_EQ(from_flags.port, 8445);
    EXPECT_EQ(from_flags.certificates, std::vector<tls_certificate>{certificate("/json.pem", "/json.key")});
}

TEST_F(tls, the_certificates_come_whole_from_the_highest_source_that_gives_any) {
    std::string json = with_tls(R"({"cert": "/json.pem", "key": "/json.key",
        "certificates": [{"cert": "/sni.pem", "key": "/sni.key"}]})");
    EXPECT_EQ(started({"start", "--config", json}).tls.certificates.size(), 2u);
    std::string env = write(".env", "SSL_CERT=/dotenv.pem\nSSL_KEY=/dotenv.key\n");
    EXPECT_EQ(started({"start", "--config", json, "--env", env}).tls.certificates,
              std::vector<tls_certificate>{certificate("/dotenv.pem", "/dotenv.key")});
    EXPECT_EQ(started({"start", "--config", json, "--env", env}, {"SSL_CERT=/process.pem"}).tls.certificates,
              std::vector<tls_certificate>{certificate("/process.pem", "/dotenv.key")});
    EXPECT_EQ(
        started({"start", "--config", json, "--env", env, "--tls-cert", "/a.pem", "--tls-key", "/a.key",
                 "--tls-cert", "/b.pem", "--tls-key", "/b.key"})
            .tls.certificates,
        (std::vector<tls_certificate>{certificate("/a.pem", "/a.key"), certificate("/b.pem", "/b.key")}));
}

TEST_F(tls, settings_without_a_certificate_are_refused_naming_one_of_them) {
    EXPECT_EQ(failure({"start", "--tls-port", "8443"}), "--tls-port" + no_certificate);
    EXPECT_EQ(failure({"start", "--tls-min-version", "1.3"}), "--tls-min-version" + no_certificate);
    EXPECT_EQ(failure({"start"}, {"SSL_CA=/ca.pem"}), "SSL_CA" + no_certificate);
    EXPECT_EQ(failure({"start"}, {"RINGCAST_TLS_MAX_HANDSHAKES=5"}),
              "RINGCAST_TLS_MAX_HANDSHAKES" + no_certificate);
    EXPECT_EQ(failure({"start", "--tls-ktls", "off"}), "--tls-ktls" + no_certificate);
    EXPECT_EQ(failure({"start"}, {"RINGCAST_TLS_KTLS=off"}), "RINGCAST_TLS_KTLS" + no_certificate);
    std::string env = write(".env", "RINGCAST_TLS_CIPHERS=HIGH\n");
    EXPECT_EQ(failure({"start", "--env", env}), env + ": RINGCAST_TLS_CIPHERS" + no_certificate);
    std::string json = with_tls(R"({"max_handshakes": 64})");
    EXPECT_EQ(failure({"start", "--config", json}), json + ": server.tls.max_handshakes" + no_certificate);
    EXPECT_EQ(failure({"start", "--config", with_tls(R"({"certificates": []})"), "--tls-host", "::"}),
              "--tls-host" + no_certificate);
    // A certificate from any source is enough.
    EXPECT_TRUE(started({"start", "--config", json}, {"SSL_CERT=c", "SSL_KEY=k"}).tls.enabled());
    EXPECT_TRUE(started({"start", "--tls-port", "8443"}, {"SSL_CERT=c", "SSL_KEY=k"}).tls.enabled());
}

TEST_F(tls, a_tls_port_equal_to_the_plain_one_on_the_same_address_is_refused) {
    EXPECT_EQ(failure({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-port", "8080"}),
              same_port("--tls-port", "8080 on 0.0.0.0"));
    EXPECT_EQ(failure({"start", "--port", "9000"}, {"SSL_CERT=c", "SSL_KEY=k", "RINGCAST_TLS_PORT=9000"}),
              same_port("RINGCAST_TLS_PORT", "9000 on 0.0.0.0"));
    std::string env = write(".env", "SSL_CERT=c\nSSL_KEY=k\nRINGCAST_TLS_PORT=8080\n");
    EXPECT_EQ(failure({"start", "--env", env}), same_port(env + ": RINGCAST_TLS_PORT", "8080 on 0.0.0.0"));
    std::string json = with_tls(R"({"cert": "c", "key": "k", "port": 8080})");
    EXPECT_EQ(failure({"start", "--config", json}), same_port(json + ": server.tls.port", "8080 on 0.0.0.0"));
    // A wildcard address overlaps every other one.
    EXPECT_EQ(failure({"start", "--host", "127.0.0.1", "--tls-cert", "c", "--tls-key", "k", "--tls-host",
                       "::", "--tls-port", "8080"}),
              same_port("--tls-port", "8080 on 127.0.0.1"));
    EXPECT_EQ(failure({"start", "--host", "127.0.0.1", "--tls-cert", "c", "--tls-key", "k", "--tls-host",
                       "127.0.0.1", "--tls-port", "8080"}),
              same_port("--tls-port", "8080 on 127.0.0.1"));
    // Checked once every source is read: a main port moved onto the file's TLS port is refused too.
    json = with_tls(R"({"cert": "c", "key": "k", "port": 8443})");
    EXPECT_EQ(failure({"start", "--config", json, "--port", "8443"}),
              same_port(json + ": server.tls.port", "8443 on 0.0.0.0"));
}

TEST_F(tls, a_tls_port_beside_the_plain_one_is_fine) {
    server other_port = started({"start", "--tls-cert", "c", "--tls-key", "k", "--tls-port", "8443"});
    EXPECT_EQ(other_port.tls.port, 8443);
    EXPECT_EQ(other_port.port, 8080);
    server other_address = started({"start", "--host", "127.0.0.1", "--tls-cert", "c", "--tls-key", "k",
                                    "--tls-host", "10.0.0.1", "--tls-port", "8080"});
    EXPECT_EQ(other_address.tls.port, 8080);
    EXPECT_EQ(other_address.tls.host, "10.0.0.1");
}

TEST(tls_usage, usage_documents_every_name) {
    std::string text = usage();
    for (const char* needle : {"--tls-cert FILE",
                               "--tls-key FILE",
                               "--tls-passphrase P",
                               "--tls-client-ca FILE",
                               "--tls-min-version V",
                               "--tls-ciphers LIST",
                               "--tls-port PORT",
                               "--tls-host HOST",
                               "--tls-max-handshakes N",
                               "--tls-ktls MODE",
                               "RINGCAST_TLS_CERT",
                               "RINGCAST_TLS_KEY",
                               "RINGCAST_TLS_PASSPHRASE",
                               "RINGCAST_TLS_CLIENT_CA",
                               "RINGCAST_TLS_MIN_VERSION",
                               "RINGCAST_TLS_CIPHERS",
                               "RINGCAST_TLS_PORT",
                               "RINGCAST_TLS_HOST",
                               "RINGCAST_TLS_MAX_HANDSHAKES",
                               "RINGCAST_TLS_KTLS",
                               "SSL_CERT",
                               "SSL_KEY",
                               "SSL_PASSPHRASE",
                               "SSL_CA",
                               "\"tls\": {\"cert\"",
                               "\"certificates\": [{\"cert\"",
                               "\"client_ca\"",
                               "\"min_version\": \"1.2\"",
                               "\"ciphers\"",
                               "\"max_handshakes\": 1024",
                               "\"ktls\": \"auto\"",
                               "(default 1.2)",
                               "(default 1024)"}) {
        EXPECT_NE(text.find(needle), std::string::npos) << needle;
    }
}
