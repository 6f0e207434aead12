#include <gtest/gtest.h>
TEST(placeholder, y) {}
