#include "ringcast/net/write_queue.h"

#include <gtest/gtest.h>

using namespace ringcast::net;

TEST(write_queue, shares_frames_and_tracks_partial_sends) {
    frame_ref a(frame::copy_of("hello"));
    frame_ref b(frame::copy_of("world!"));
    write_queue q;
    q.push(a);
    q.push(b);
    EXPECT_EQ(q.pending_bytes(), 11u);
    iovec iov[4];
    ASSERT_EQ(q.fill(iov, 4), 2u);
    q.consume(7); // all of "hello", "wo" of "world!"
    ASSERT_EQ(q.fill(iov, 4), 1u);
    EXPECT_EQ(std::string_view(static_cast<char*>(iov[0].iov_base), iov[0].iov_len), "rld!");
    EXPECT_EQ(q.pending_bytes(), 4u);
    q.consume(4);
    EXPECT_TRUE(q.empty());
}

TEST(write_queue, dropping_unsent_frames_keeps_a_partly_sent_head) {
    frame_ref a(frame::copy_of("hello"));
    frame_ref b(frame::copy_of("world!"));
    write_queue q;
    q.push(a);
    q.push(b);
    q.push(a);
    q.consume(2); // "he" of "hello" is out: the rest of that frame must follow
    EXPECT_EQ(q.drop_unsent(), 11u);
    EXPECT_EQ(q.pending_bytes(), 3u);
    iovec iov[4];
    ASSERT_EQ(q.fill(iov, 4), 1u);
    EXPECT_EQ(std::string_view(static_cast<char*>(iov[0].iov_base), iov[0].iov_len), "llo");
}

TEST(write_queue, dropping_unsent_frames_between_frames_drops_them_all) {
    frame_ref a(frame::copy_of("hello"));
    write_queue q;
    q.push(a);
    q.push(a);
    q.consume(5);
    EXPECT_EQ(q.drop_unsent(), 5u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.pending_bytes(), 0u);
    q.push(a); // the goodbye goes in after
    EXPECT_EQ(q.pending_bytes(), 5u);
}
