// Shared by the config tests: load() driven like main(), and a temporary directory for files.
#pragma once

#include "ringcast/config/config.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::config::test_support {

// Runs load() as main would: argv[0] is the program, envp is NULL-terminated.
inline core::result<command_line> run_as_given(const std::vector<std::string>& args,
                                               const std::vector<std::string>& env = {}) {
    std::vector<const char*> argv{"ringcast"};
    for (const std::string& a : args) {
        argv.push_back(a.c_str());
    }
    argv.push_back(nullptr);
    std::vector<const char*> envp;
    for (const std::string& e : env) {
        envp.push_back(e.c_str());
    }
    envp.push_back(nullptr);
    return load(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
}

// The same, with --allow-dev-credentials right after "start": most tests use the default
// address (0.0.0.0) with the development app, which is refused without it (tested apart, in
// dev_app_test.cpp).
inline core::result<command_line> run(std::vector<std::string> args,
                                      const std::vector<std::string>& env = {}) {
    if (!args.empty() && args[0] == "start") {
        args.insert(args.begin() + 1, "--allow-dev-credentials");
    }
    return run_as_given(args, env);
}

// A start that must succeed; returns its settings.
inline server started(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    core::result<command_line> r = run(args, env);
    EXPECT_TRUE(r.ok()) << r.error().message();
    if (!r) {
        return {};
    }
    EXPECT_EQ(r->what, command_line::action::start);
    return r->settings;
}

// A load that must fail; returns its message.
inline std::string failure(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    core::result<command_line> r = run(args, env);
    EXPECT_FALSE(r.ok());
    return r.error().message();
}

// Files for one test under a fresh mkdtemp directory, removed afterwards.
class config_files : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (std::filesystem::temp_directory_path() / "ringcast-config-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }

    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    std::string write(const std::string& name, std::string_view text) {
        std::string path = (dir_ / name).string();
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    std::filesystem::path dir_;
};

} // namespace ringcast::config::test_support
