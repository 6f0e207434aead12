#!/usr/bin/env python3
# Writes the seeds of pusher_dispatch_fuzz into corpus/pusher_dispatch/ (one file per feature).
# Steps are separated by '\n'; the first byte of a step is action << 4 | client (see the top of
# pusher_dispatch_fuzz.cpp).
import json
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'pusher_dispatch')


def say(slot, text): return bytes([0x00 | slot]) + text.encode()
def sub(slot, ch, cd=None): return bytes([0x50 | slot]) + ch.encode() + (b'|' + cd.encode() if cd else b'')
def signin(slot, ud): return bytes([0x60 | slot]) + ud.encode()
def frame(slot, text): return bytes([0x70 | slot]) + text.encode()
def raw(slot, b): return bytes([0x80 | slot]) + b
def one(fr, to): return bytes([0x90, fr + 3 * to])
ALL = bytes([0xA0])
def shuf(seed): return bytes([0xB0, seed])
def adv(quarters): return bytes([0xC0, quarters])  # quarters of a second
def bye(slot): return bytes([0xD0 | slot])
def reconnect(slot, app): return bytes([0xE0 | slot, app])
def api(slot, which, rest): return bytes([0xF0 | slot, which]) + rest.encode()  # which % 6: publish, publish, channels, members, connections, terminate
def member(u): return json.dumps({"user_id": u, "user_info": {"name": u}}, separators=(',', ':'))


def w(name, steps):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b'\n'.join(steps))


w('public', [say(0, '{"event":"pusher:subscribe","data":{"channel":"news"}}'),
             sub(1, 'news'), ALL, api(0, 0, 'news|{"hello":1}'), ALL,
             say(0, '{"event":"pusher:unsubscribe","data":{"channel":"news"}}'), ALL])
w('private', [sub(0, 'private-chat'), sub(1, 'private-chat'), ALL,
              say(0, '{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"app-key:00"}}'),
              say(2, '{"event":"pusher:subscribe","data":{"channel":"private-y"}}'), ALL])
w('presence', [sub(0, 'presence-room', member('u1')), sub(1, 'presence-room', member('u2')),
               sub(2, 'presence-room', member('u1')), ALL, api(0, 3, 'presence-room'),
               bye(1), ALL, sub(3, 'presence-room', member('u3')), shuf(7), bye(3), ALL])
w('presence_limit', [sub(0, 'presence-room', member('a')), sub(1, 'presence-room', member('b')),
                     sub(2, 'presence-room', member('c')), sub(3, 'presence-room', member('d')),
                     one(0, 1), one(1, 0), one(2, 0), ALL,
                     sub(0, 'presence-x', '{"user_id":12345678901234567890}'), ALL])
w('cache', [api(0, 0, 'cache-news|{"v":1}'), ALL, sub(1, 'cache-news'), sub(2, 'cache-empty'), ALL,
            sub(3, 'private-cache-c'), sub(0, 'presence-cache-p', member('u1')), ALL, adv(200), ALL])
w('client_events', [sub(0, 'private-chat'), sub(1, 'private-chat'), ALL] +
  [say(0, '{"event":"client-typing","channel":"private-chat","data":{"t":%d}}' % i) for i in range(6)] +
  [ALL, say(0, '{"event":"client-x","channel":"news","data":1}'),
   say(0, '{"event":"client-x","channel":"private-encrypted-v","data":1}'),
   say(2, '{"event":"client-x","channel":"private-chat","data":"s"}'), adv(4),
   say(0, '{"event":"client-typing","channel":"private-chat"}'), ALL])
w('presence_whisper', [sub(0, 'presence-room', member('u1')), sub(1, 'presence-room', member('u2')), ALL,
                       say(0, '{"event":"client-hi","channel":"presence-room","data":{}}'), ALL])
w('signin_watchlist', [signin(0, '{"id":"a","watchlist":["b","c","d","e"]}'), ALL,
                       signin(1, '{"id":"b"}'), signin(2, '{"id":"b"}'), ALL,
                       say(0, '{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-a"}}'),
                       say(1, '{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-a"}}'),
                       bye(1), ALL, bye(2), ALL, api(0, 5, 'a'), ALL])
w('signin_bad', [say(0, '{"event":"pusher:signin","data":{"auth":"app-key:00","user_data":"{\\"id\\":\\"u\\"}"}}'),
                 signin(1, '{"id":"u1"}'), signin(1, '{"id":"u2"}'), signin(2, '{"name":"x"}'),
                 say(3, '{"event":"pusher:signin","data":5}'), ALL])
w('pings', [say(0, '{"event":"pusher:ping","data":{}}'), frame(1, '{"event":"pusher:ping"}'),
            adv(40), frame(0, '{"event":"pusher:pong","data":{}}'), adv(40), adv(40),
            raw(2, bytes([0x89, 0x80, 1, 2, 3, 4])), adv(60)])
w('garbage', [say(0, 'not json'), say(0, '[1,2]'), say(0, '{"event":5}'), say(0, '{}'),
              say(0, '{"event":"pusher:subscribe","data":"{\\"channel\\":\\"news\\"}"}'),
              say(0, '{"event":"pusher:subscribe","data":7}'), say(0, '{"event":"pusher:nope"}'),
              raw(1, b'\x81\x05hello'), raw(2, b'\x82\x80\x00\x00\x00\x00'),
              frame(3, '{"event":"pusher:ping","data":"' + 'x' * 2100 + '"}'), ALL])
w('reverb_app', [reconnect(4, 1), reconnect(5, 1), say(4, '{"event":"client-a","channel":"private-p","data":1}'),
                 sub(5, 'private-p'), ALL] + [say(4, '{"event":"pusher:ping"}')] * 13 +
                [adv(12), adv(12), ALL])
w('subscription_count', [sub(0, 'news'), sub(1, 'news'), sub(2, 'news'), ALL, bye(1), ALL,
                         api(0, 2, 'news'), api(1, 4, ''), reconnect(1, 0), sub(1, 'news'), ALL])
