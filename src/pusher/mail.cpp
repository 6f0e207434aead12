// Where each kind of mail goes on the shard that receives it (see mail.h).
#include "ringcast/pusher/mail.h"

#include "ringcast/pusher/cluster_mail.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/query.h"
#include "ringcast/pusher/session.h"

namespace ringcast::pusher {

void publish_mail::deliver(context& at) {
    at.on_publish_mail(*this);
}

void no_subscribers_mail::deliver(context& at) {
    at.routes().skip(app, channel, from);
}

void subscribers_again_mail::deliver(context& at) {
    at.routes().unskip(app, channel, from);
}

void disclaims_reset_mail::deliver(context& at) {
    at.routes().forget_skips(from);
}

void subscription_delta_mail::deliver(context& at) {
    at.owned().on_subscription_delta(*this);
}

void presence_join_mail::deliver(context& at) {
    at.owned().on_presence_join(*this);
}

void presence_joined_mail::deliver(context& at) {
    at.on_presence_joined(*this);
}

void presence_leave_mail::deliver(context& at) {
    at.owned().on_presence_leave(*this);
}

void cache_set_mail::deliver(context& at) {
    at.owned().on_cache_set(*this);
}

void cache_get_mail::deliver(context& at) {
    at.owned().on_cache_get(*this);
}

void cache_reply_mail::deliver(context& at) {
    if (session* s = at.find_session(socket)) {
        s->on_cache_reply(*this);
    }
}

void user_presence_mail::deliver(context& at) {
    at.owned().on_user_presence(*this);
}

void watch_mail::deliver(context& at) {
    at.owned().on_watch(*this);
}

void watch_status_mail::deliver(context& at) {
    if (session* s = at.find_session(socket)) {
        s->on_watch_status(*this);
    }
}

void query_mail::deliver(context& at) {
    at.answer(*this);
}

void query_reply_mail::deliver(context& at) {
    at.on_query_reply(*this);
}

void reload_mail::deliver(context& at) {
    at.reload(*settings);
}

void share_mail::to_bridge(bridge_handler& b) {
    b.on_share(*this);
}

void cache_set_mail::to_bridge(bridge_handler& b) {
    b.on_cache_set(*this);
}

void cache_get_mail::to_bridge(bridge_handler& b) {
    b.on_cache_get(*this);
}

void query_reply_mail::to_bridge(bridge_handler& b) {
    b.on_query_reply(*this);
}

void query_mail::to_bridge(bridge_handler& b) {
    b.on_query(*this);
}

void node_dump_request_mail::deliver(context& at) {
    at.owned().on_dump_request(*this);
}

void subscribed_mail::deliver(context& at) {
    if (session* s = at.find_session(socket)) {
        s->on_subscribed(channel);
    }
}

void user_status_mail::deliver(context& at) {
    at.owned().on_user_status(*this);
}

void watch_query_mail::deliver(context& at) {
    at.owned().on_watch_query(*this);
}

} // namespace ringcast::pusher
