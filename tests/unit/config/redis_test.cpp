// Redis scaling configuration: the --redis flag, Reverb's REVERB_SCALING_* and REDIS_* variables
// (also from a .env file), "server.redis" in the JSON file, which source wins, every refusal
// naming its source, and display() never showing the password.
#include "load_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using namespace ringcast::config;
using namespace ringcast::config::test_support;

namespace {

class redis : public config_files {
protected:
    // The JSON file whose "server.redis" is `object`.
    std::string with_redis(const std::string& object) {
        return write("config.json", R"({"server": {"redis": )" + object + "}}");
    }

    redis_settings loaded(const std::string& object) {
        return started({"start", "--config", with_redis(object)}).redis;
    }

    // The message of a "server.redis" that must fail, without the "FILE: " prefix.
    std::string refused(const std::string& object) {
        std::string json = with_redis(object);
        std::string message = failure({"start", "--config", json});
        EXPECT_EQ(message.rfind(json + ": ", 0), 0u) << message;
        return message.substr(std::min(message.size(), json.size() + 2));
    }
};

redis_settings from_flag(const std::string& url) {
    return started({"start", "--redis", url}).redis;
}

} // namespace

TEST(redis_defaults, scaling_is_off_against_the_local_server) {
    redis_settings r = started({"start"}).redis;
    EXPECT_FALSE(r.enabled);
    EXPECT_FALSE(r.tls);
    EXPECT_EQ(r.host, "127.0.0.1");
    EXPECT_EQ(r.port, 6379);
    EXPECT_EQ(r.username, "");
    EXPECT_EQ(r.password, "");
    EXPECT_EQ(r.db, 0u);
    EXPECT_EQ(r.prefix, "reverb");
    EXPECT_EQ(r, redis_settings{});
    EXPECT_EQ(r.display(), "redis://127.0.0.1:6379/0");
}

TEST(redis_display, shows_the_username_but_never_the_password) {
    redis_settings r;
    r.password = "secret";
    EXPECT_EQ(r.display(), "redis://:***@127.0.0.1:6379/0");
    r.username = "user";
    r.host = "redis.internal";
    r.db = 3;
    EXPECT_EQ(r.display(), "redis://user:***@redis.internal:6379/3");
    r.tls = true;
    r.host = "::1";
    r.port = 6380;
    EXPECT_EQ(r.display(), "rediss://user:***@[::1]:6380/3");
    r.username = "a@b";
    EXPECT_EQ(r.display(), "rediss://a%40b:***@[::1]:6380/3");
    EXPECT_EQ(r.display().find("secret"), std::string::npos);
}

TEST(redis_flag, a_url_enables_scaling_and_sets_the_connection) {
    redis_settings r = from_flag("redis://user:secret@redis.example:6380/2");
    EXPECT_TRUE(r.enabled);
    EXPECT_FALSE(r.tls);
    EXPECT_EQ(r.host, "redis.example");
    EXPECT_EQ(r.port, 6380);
    EXPECT_EQ(r.username, "user");
    EXPECT_EQ(r.password, "secret");
    EXPECT_EQ(r.db, 2u);
    EXPECT_EQ(r.prefix, "reverb");
}

TEST(redis_flag, urls_are_split_into_their_parts) {
    struct expected {
        const char* url;
        bool tls;
        const char* host;
        std::uint16_t port;
        const char* username;
        const char* password;
        std::uint32_t db;
    };
    const expected cases[] = {
        {"redis://localhost", false, "localhost", 6379, "", "", 0},
        {"REDISS://Cache.Example.com", true, "Cache.Example.com", 6379, "", "", 0},
        {"rediss://10.0.0.5:6390/", true, "10.0.0.5", 6390, "", "", 0},
        {"redis://[::1]:7000/5", false, "::1", 7000, "", "", 5},
        {"redis://[2001:db8::1]", false, "2001:db8::1", 6379, "", "", 0},
        {"redis://:only-a-password@redis", false, "redis", 6379, "", "only-a-password", 0},
        {"redis://my_redis.local:65535/2147483647", false, "my_redis.local", 65535, "", "", 2147483647},
        {"redis://redis/1?", false, "redis", 6379, "", "", 1},
        // Percent-decoded; an unencoded '@' in the password still splits at the last one.
        {"redis://us%3Aer:p%40ss%2Fw%25rd@redis", false, "redis", 6379, "us:er", "p@ss/w%rd", 0},
        {"redis://:p@ss@redis:1", false, "redis", 1, "", "p@ss", 0},
        {"redis://user:pa:ss@redis", false, "redis", 6379, "user", "pa:ss", 0},
        {"redis://:pa/ss?w@redis/3", false, "redis", 6379, "", "pa/ss?w", 3},
    };
    for (const expected& e : cases) {
        redis_settings r = from_flag(e.url);
        EXPECT_TRUE(r.enabled) << e.url;
        EXPECT_EQ(r.tls, e.tls) << e.url;
        EXPECT_EQ(r.host, e.host) << e.url;
        EXPECT_EQ(r.port, e.port) << e.url;
        EXPECT_EQ(r.username, e.username) << e.url;
        EXPECT_EQ(r.password, e.password) << e.url;
        EXPECT_EQ(r.db, e.db) << e.url;
    }
}

TEST(redis_flag, bad_urls_are_refused_without_their_password) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "expected a redis:// or rediss:// URL, got \"\""},
        {"http://redis", "expected a redis:// or rediss:// URL, got \"http://redis\""},
        {"unix:///tmp/redis.sock", "expected a redis:// or rediss:// URL, got \"unix:///tmp/redis.sock\""},
        {"redis://", "missing host, got \"redis://\""},
        {"redis://:6379/0", "missing host, got \"redis://:6379/0\""},
        {"redis://redis:0", "port \"0\": expected a number from 1 to 65535, got \"redis://redis:0\""},
        {"redis://redis:65536",
         "port \"65536\": expected a number from 1 to 65535, got \"redis://redis:65536\""},
        {"redis://redis:", "port \"\": expected a number from 1 to 65535, got \"redis://redis:\""},
        {"redis://redis/2147483648",
         "database \"2147483648\": expected a number from 0 to 2147483647, got \"redis://redis/2147483648\""},
        {"redis://redis/x",
         "database \"x\": expected a number from 0 to 2147483647, got \"redis://redis/x\""},
        {"redis://redis/0/1",
         "database \"0/1\": expected a number from 0 to 2147483647, got \"redis://redis/0/1\""},
        {"redis://[::1", "missing \"]\" after the IPv6 address, got \"redis://[::1\""},
        {"redis://[::1]x", "expected \":PORT\" or the path after \"]\", got \"redis://[::1]x\""},
        {"redis://[nope]", "invalid IPv6 address \"nope\", got \"redis://[nope]\""},
        {"redis://300.1.1.1", "invalid IPv4 address \"300.1.1.1\", got \"redis://300.1.1.1\""},
        {"redis://-bad-", "invalid host name \"-bad-\", got \"redis://-bad-\""},
        {"redis://re dis", "spaces and control characters are not allowed in a URL, got \"redis://re dis\""},
        {"redis://redis#x",
         "a fragment (#...) has no meaning in a Redis URL (a \"#\" in a password is written %23), got "
         "\"redis://redis#x\""},
        {"redis://:s3cret@redis?timeout=5&ssl_cert_reqs=none",
         "unsupported query parameters \"timeout\", \"ssl_cert_reqs\" (no parameter is supported; the URL "
         "holds host, port, credentials and database), got \"redis://:***@redis?...\""},
        {"redis://redis?password=s3cret",
         "unsupported query parameters \"password\" (no parameter is supported; the URL holds host, port, "
         "credentials and database), got \"redis://redis?...\""},
        {"redis://s3cret@redis",
         "a username needs a password (redis://user:password@host), and a password alone is written "
         "redis://:password@host, got \"redis://***@redis\""},
        {"redis://user:@redis",
         "a username needs a password (redis://user:password@host), and a password alone is written "
         "redis://:password@host, got \"redis://user:***@redis\""},
        {"redis://:s3/cr?et@redis:0",
         "port \"0\": expected a number from 1 to 65535, got \"redis://:***@redis:0\""},
        {"redis://u:s3cret#@redis",
         "a fragment (#...) has no meaning in a Redis URL (a \"#\" in a password is "
         "written %23), got \"redis://u:***@redis\""},
        {"redis://@redis", "empty credentials before \"@\"; remove the \"@\", got \"redis://***@redis\""},
        {"redis://user:s3cret%zz@redis",
         "invalid percent-encoding in the password (\"%\" must be followed by two hex digits; write \"%25\" "
         "for \"%\"), got \"redis://user:***@redis\""},
        {"redis://us%4:s3cret@redis",
         "invalid percent-encoding in the username (\"%\" must be followed by two hex digits; write \"%25\" "
         "for \"%\"), got \"redis://us%4:***@redis\""},
    };
    for (const auto& [url, message] : cases) {
        std::string got = failure({"start", "--redis", url});
        EXPECT_EQ(got, std::string("--redis: ") + message) << url;
        EXPECT_EQ(got.find("s3cret"), std::string::npos) << got;
    }
    EXPECT_EQ(failure({"start", "--redis"}), "--redis: expected a redis:// or rediss:// URL");
}

TEST(redis_env, a_reverb_dotenv_block_enables_scaling) {
    redis_settings r = started({"start"}, {"REVERB_SCALING_ENABLED=true", "REDIS_HOST=redis",
                                           "REDIS_PASSWORD=secret", "REDIS_PORT=6380"})
                           .redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_FALSE(r.tls);
    EXPECT_EQ(r.host, "redis");
    EXPECT_EQ(r.port, 6380);
    EXPECT_EQ(r.username, "");
    EXPECT_EQ(r.password, "secret");
    EXPECT_EQ(r.db, 0u);
    EXPECT_EQ(r.prefix, "reverb");
    EXPECT_EQ(r.display(), "redis://:***@redis:6380/0");
}

TEST(redis_env, every_part_has_its_variable) {
    redis_settings r = started({"start"}, {"REVERB_SCALING_ENABLED=(true)", "REVERB_SCALING_CHANNEL=app-one",
                                           "REDIS_HOST=::1", "REDIS_PORT=7000", "REDIS_USERNAME=default",
                                           "REDIS_PASSWORD=p@ss word", "REDIS_DB=4", "REDIS_SCHEME=TLS"})
                           .redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_TRUE(r.tls);
    EXPECT_EQ(r.host, "::1");
    EXPECT_EQ(r.port, 7000);
    EXPECT_EQ(r.username, "default");
    // Variables are not URLs: nothing is percent-decoded.
    EXPECT_EQ(r.password, "p@ss word");
    EXPECT_EQ(r.db, 4u);
    EXPECT_EQ(r.prefix, "app-one");
    EXPECT_EQ(
        started({"start"}, {"REVERB_SCALING_ENABLED=1", "REDIS_HOST=[::1]", "REDIS_SCHEME=tcp"}).redis.host,
        "::1");
}

TEST(redis_env, redis_variables_alone_do_not_enable_scaling) {
    // A Laravel app's .env names its cache's Redis; that is no request for scaling, and values
    // ringcast could not use (a socket path, Predis's unix scheme) do not stop the start either.
    redis_settings r = started({"start"}, {"REDIS_HOST=/var/run/redis.sock", "REDIS_SCHEME=unix",
                                           "REDIS_PORT=0", "REDIS_URL=redis://cache:6379"})
                           .redis;
    EXPECT_EQ(r, redis_settings{});
    EXPECT_FALSE(started({"start"}, {"REDIS_HOST=redis", "REVERB_SCALING_ENABLED=false"}).redis.enabled);
    // The prefix is Reverb's setting, read either way.
    EXPECT_EQ(started({"start"}, {"REVERB_SCALING_CHANNEL=x"}).redis.prefix, "x");
}

TEST(redis_env, redis_url_wins_over_the_parts) {
    redis_settings r =
        started({"start"}, {"REVERB_SCALING_ENABLED=true", "REDIS_URL=rediss://u:pw@primary:6390/3",
                            "REDIS_HOST=ignored", "REDIS_PORT=nope", "REDIS_PASSWORD=other"})
            .redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_TRUE(r.tls);
    EXPECT_EQ(r.host, "primary");
    EXPECT_EQ(r.port, 6390);
    EXPECT_EQ(r.username, "u");
    EXPECT_EQ(r.password, "pw");
    EXPECT_EQ(r.db, 3u);
}

TEST(redis_env, the_flag_wins_over_the_environment) {
    redis_settings r = started({"start", "--redis=redis://flag:6381"},
                               {"REVERB_SCALING_ENABLED=false", "REVERB_SCALING_CHANNEL=env-prefix",
                                "REDIS_URL=redis://:pw@env:6390/3", "REDIS_HOST=env-host"})
                           .redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.host, "flag");
    EXPECT_EQ(r.port, 6381);
    EXPECT_EQ(r.password, "");
    EXPECT_EQ(r.db, 0u);
    // The flag names the connection only.
    EXPECT_EQ(r.prefix, "env-prefix");
}

TEST(redis_env, bad_values_name_the_variable) {
    const std::vector<std::string> on = {"REVERB_SCALING_ENABLED=true"};
    auto with = [&](const std::string& variable) {
        std::vector<std::string> env = on;
        env.push_back(variable);
        return failure({"start"}, env);
    };
    EXPECT_EQ(failure({"start"}, {"REVERB_SCALING_ENABLED=on"}),
              "REVERB_SCALING_ENABLED: expected true or false (or 1, 0, yes, no), got \"on\"");
    EXPECT_EQ(
        failure({"start"}, {"REVERB_SCALING_CHANNEL=a b"}),
        "REVERB_SCALING_CHANNEL: spaces and control characters are not allowed in the prefix, got \"a b\"");
    EXPECT_EQ(failure({"start"}, {"REVERB_SCALING_CHANNEL=" + std::string(101, 'p')}),
              "REVERB_SCALING_CHANNEL: expected at most 100 characters, got \"" + std::string(101, 'p') +
                  "\"");
    EXPECT_EQ(started({"start"}, {"REVERB_SCALING_CHANNEL=" + std::string(100, 'p')}).redis.prefix.size(),
              100u);
    EXPECT_EQ(
        with("REDIS_URL=redis://:s3cret@redis?db=1"),
        "REDIS_URL: unsupported query parameters \"db\" (no parameter is supported; the URL holds host, "
        "port, credentials and database), got \"redis://:***@redis?...\"");
    EXPECT_EQ(with("REDIS_HOST=a..b"), "REDIS_HOST: invalid host name \"a..b\", got \"a..b\"");
    EXPECT_EQ(with("REDIS_HOST=[::g]"), "REDIS_HOST: invalid IPv6 address \"::g\", got \"[::g]\"");
    EXPECT_EQ(with("REDIS_PORT=65536"), "REDIS_PORT: expected a number from 1 to 65535, got \"65536\"");
    EXPECT_EQ(with("REDIS_DB=-1"), "REDIS_DB: expected a number from 0 to 2147483647, got \"-1\"");
    EXPECT_EQ(with("REDIS_SCHEME=unix"), "REDIS_SCHEME: expected tcp or tls, got \"unix\"");
    EXPECT_EQ(with("REDIS_USERNAME=default"), "REDIS_USERNAME: needs REDIS_PASSWORD too, got \"default\"");
}

TEST_F(redis, dotenv_values_work_and_name_the_file) {
    std::string good = write(
        "app.env", "REVERB_SCALING_ENABLED=true\nREDIS_HOST=redis\nREDIS_PASSWORD=secret\nREDIS_PORT=6380\n");
    redis_settings r = started({"start", "--env", good}).redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.host, "redis");
    EXPECT_EQ(r.port, 6380);
    EXPECT_EQ(r.password, "secret");
    // The process environment wins over the file, as in Laravel.
    EXPECT_EQ(started({"start", "--env", good}, {"REDIS_HOST=other"}).redis.host, "other");

    std::string bad =
        write("bad.env", "REVERB_SCALING_ENABLED=true\nREDIS_URL=redis://u:s3cret@redis:99999\n");
    EXPECT_EQ(failure({"start", "--env", bad}), bad + ": REDIS_URL: port \"99999\": expected a number from 1 "
                                                      "to 65535, got \"redis://u:***@redis:99999\"");
}

TEST_F(redis, the_json_file_sets_every_part) {
    redis_settings r = loaded(R"({"enabled": true, "host": "10.1.2.3", "port": 6390, "username": "u",
        "password": "p", "db": 9, "tls": true, "prefix": "shared"})");
    EXPECT_TRUE(r.enabled);
    EXPECT_TRUE(r.tls);
    EXPECT_EQ(r.host, "10.1.2.3");
    EXPECT_EQ(r.port, 6390);
    EXPECT_EQ(r.username, "u");
    EXPECT_EQ(r.password, "p");
    EXPECT_EQ(r.db, 9u);
    EXPECT_EQ(r.prefix, "shared");
    // Parts alone, as REDIS_HOST, do not enable.
    EXPECT_FALSE(loaded(R"({"host": "redis"})").enabled);
    EXPECT_EQ(loaded(R"({"host": "redis"})").host, "redis");
    EXPECT_EQ(loaded(R"({})"), redis_settings{});
}

TEST_F(redis, a_json_url_enables_unless_enabled_says_otherwise) {
    redis_settings r = loaded(R"({"url": "rediss://:pw@redis.example/1", "prefix": "p"})");
    EXPECT_TRUE(r.enabled);
    EXPECT_TRUE(r.tls);
    EXPECT_EQ(r.host, "redis.example");
    EXPECT_EQ(r.password, "pw");
    EXPECT_EQ(r.db, 1u);
    EXPECT_EQ(r.prefix, "p");
    EXPECT_FALSE(loaded(R"({"enabled": false, "url": "redis://redis"})").enabled);
    EXPECT_FALSE(loaded(R"({"url": "redis://redis", "enabled": false})").enabled);
}

TEST_F(redis, json_refusals_name_the_key) {
    EXPECT_EQ(refused(R"({"url": "redis://redis", "host": "other"})"),
              "server.redis: both \"url\" and \"host\" given; use one or the other");
    EXPECT_EQ(refused(R"({"tls": true, "url": "rediss://redis"})"),
              "server.redis: both \"url\" and \"tls\" given; use one or the other");
    EXPECT_EQ(refused(R"({"url": "redis://:s3cret@redis/16x"})"),
              "server.redis.url: database \"16x\": expected a number from 0 to 2147483647");
    EXPECT_EQ(refused(R"({"url": ""})"), "server.redis.url: expected a non-empty string");
    EXPECT_EQ(refused(R"({"host": "bad host"})"), "server.redis.host: invalid host name \"bad host\"");
    EXPECT_EQ(refused(R"({"host": ""})"), "server.redis.host: expected a non-empty string");
    EXPECT_EQ(refused(R"({"port": 0})"), "server.redis.port: expected a number from 1 to 65535");
    EXPECT_EQ(refused(R"({"db": 2147483648})"), "server.redis.db: expected a number from 0 to 2147483647");
    EXPECT_EQ(refused(R"({"db": -1})"), "server.redis.db: expected a number from 0 to 2147483647");
    EXPECT_EQ(refused(R"({"tls": "yes"})"), "server.redis.tls: expected true or false");
    EXPECT_EQ(refused(R"({"enabled": 1})"), "server.redis.enabled: expected true or false");
    EXPECT_EQ(refused(R"({"prefix": ""})"), "server.redis.prefix: expected a non-empty string");
    EXPECT_EQ(refused(R"({"prefix": "a\tb"})"),
              "server.redis.prefix: spaces and control characters are not allowed in the prefix");
    EXPECT_EQ(refused(R"({"username": "u"})"), "server.redis.username: needs \"password\" too");
    EXPECT_EQ(refused(R"({"timeout": 5})"), "unknown key \"server.redis.timeout\"");
    EXPECT_EQ(refused(R"({"host": "a", "host": "b"})"), "duplicate key \"server.redis.host\"");
    EXPECT_EQ(refused(R"("redis://redis")"), "server.redis: expected an object");
    // An empty username is none, as the default.
    EXPECT_EQ(loaded(R"({"username": ""})").username, "");
}

TEST_F(redis, the_environment_wins_over_the_json_file_field_by_field) {
    std::string json = with_redis(R"({"enabled": true, "host": "json-host", "port": 6390, "password": "jp",
        "prefix": "json-prefix"})");
    redis_settings r =
        started({"start", "--config", json}, {"REDIS_HOST=env-host", "REVERB_SCALING_CHANNEL=env"}).redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.host, "env-host");
    EXPECT_EQ(r.port, 6390);
    EXPECT_EQ(r.password, "jp");
    EXPECT_EQ(r.prefix, "env");
    // REDIS_URL replaces the whole connection of the file.
    r = started({"start", "--config", json}, {"REDIS_URL=redis://url-host"}).redis;
    EXPECT_EQ(r.host, "url-host");
    EXPECT_EQ(r.port, 6379);
    EXPECT_EQ(r.password, "");
    EXPECT_EQ(r.prefix, "json-prefix");
    // The environment can switch off what the file switched on, and the flag back on.
    EXPECT_FALSE(started({"start", "--config", json}, {"REVERB_SCALING_ENABLED=no"}).redis.enabled);
    r = started({"start", "--config", json, "--redis", "redis://flag"}, {"REVERB_SCALING_ENABLED=no"}).redis;
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.host, "flag");
    EXPECT_EQ(r.password, "");
    EXPECT_EQ(r.prefix, "json-prefix");
}

TEST(redis_usage, names_the_flag_the_variables_and_the_keys) {
    std::string text = usage();
    for (const char* word : {"--redis URL", "REVERB_SCALING_ENABLED", "REVERB_SCALING_CHANNEL", "REDIS_URL",
                             "REDIS_HOST", "REDIS_PASSWORD", "REDIS_SCHEME", "\"redis\": {\"enabled\": false",
                             "redis://127.0.0.1:6379/0", "2147483647"}) {
        EXPECT_NE(text.find(word), std::string::npos) << word;
    }
}
