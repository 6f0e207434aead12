// Inbound WebSocket processing, sans-I/O: feed() it the bytes a recv produced; it reassembles
// fragmented messages, enforces masking and the message size limit, validates UTF-8, answers
// pings, and reports complete text messages to a sink. The control frames to send (pongs, close
// replies) are handed to the sink as bytes.
//
// What every Pusher client sends, whole unfragmented masked text frames, is decoded here
// directly; anything else (fragments, control frames, a frame cut by the recv, a protocol
// error) goes through wslay's event API, which owns every close code. wslay's context is only
// created for those, so a client event costs no 8.8 KB zeroed allocation.
//
// Outbound Pusher frames never pass through here (wslay copies every queued message); they are
// encoded once by frame_encoder and shared.
#pragma once

#include <sys/types.h>

#include "ringcast/ws/frame_boundary.h"

#include <cstdint>
#include <string_view>

struct wslay_event_context;
struct wslay_event_on_msg_recv_arg;

namespace ringcast::ws {

class message_sink {
public:
    virtual void on_text(std::string_view message) = 0;
    // Control-frame bytes produced by the decoder (pong, close) to queue for sending, in order.
    virtual void on_control_bytes(std::string_view bytes) = 0;

protected:
    ~message_sink() = default;
};

class decoder {
public:
    enum class state {
        open,
        // A close frame has been queued (ours or the reply to the peer's): flush it, then close.
        closing,
        // wslay failed (out of memory): close the socket without more ado.
        failed,
    };

    // Frames one message may be split into. No client library fragments Pusher messages at
    // all; the bound only stops a peer that sends continuation frames forever (closed 1009).
    static constexpr std::uint32_t max_frames_per_message = 1000;

    explicit decoder(std::uint32_t max_message_size);
    ~decoder();
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;

    [[nodiscard]] state feed(std::string_view input, message_sink& sink);
    // A fragmented message has begun and not ended yet.
    bool mid_message() const noexcept { return boundary_.in_message(); }
    // The close code the decoder chose or received (0 when none), for logs.
    std::uint16_t close_code() const noexcept { return close_code_; }

private:
    static ssize_t recv_cb(wslay_event_context* ctx, std::uint8_t* buf, size_t len, int flags, void* user);
    static ssize_t send_cb(wslay_event_context* ctx, const std::uint8_t* data, size_t len, int flags,
                           void* user);
    static void on_msg_cb(wslay_event_context* ctx, const wslay_event_on_msg_recv_arg* arg, void* user);
    void queue_close(std::uint16_t code, std::string_view reason);
    // Decodes the complete simple text frames at the front of the input; returns the rest.
    std::string_view feed_simple(std::string_view input, message_sink& sink);

    // Created when bytes arrive and freed again whenever the input ends between messages (see
    // frame_boundary.h), so idle connections do not keep wslay's 8.8 KB context.
    wslay_event_context* ctx_ = nullptr;
    frame_boundary boundary_;
    std::uint32_t max_message_size_;

    std::string_view input_;
    message_sink* sink_ = nullptr;
    std::uint16_t close_code_ = 0;
    bool closing_ = false;
};

} // namespace ringcast::ws
