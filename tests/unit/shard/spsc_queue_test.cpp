#include "ringcast/shard/spsc_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using ringcast::shard::spsc_queue;

TEST(spsc_queue, is_fifo_and_reports_empty) {
    spsc_queue<int> q(4);
    int a = 1, b = 2;
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_TRUE(q.push(&a));
    EXPECT_TRUE(q.push(&b));
    EXPECT_EQ(q.pop(), &a);
    EXPECT_EQ(q.pop(), &b);
    EXPECT_EQ(q.pop(), nullptr);
}

TEST(spsc_queue, refuses_when_full_instead_of_overwriting) {
    spsc_queue<int> q(2);
    int v[3] = {0, 1, 2};
    EXPECT_TRUE(q.push(&v[0]));
    EXPECT_TRUE(q.push(&v[1]));
    EXPECT_FALSE(q.push(&v[2]));
    EXPECT_EQ(q.pop(), &v[0]);
    EXPECT_TRUE(q.push(&v[2]));
}

TEST(spsc_queue, carries_a_million_items_across_threads_in_order) {
    constexpr int n = 1'000'000;
    spsc_queue<int> q(1024);
    std::vector<int> values(n);
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) {
            values[i] = i;
            while (!q.push(&values[i])) {
                std::this_thread::yield();
            }
        }
    });
    int expected = 0;
    while (expected < n) {
        if (int* p = q.pop()) {
            ASSERT_EQ(*p, expected); // the value written before push is visible after pop
            ++expected;
        }
    }
    producer.join();
}
