'use strict';

// One pusher-js client (Node build) in its own process, driven with JSON lines.
//
// Why a separate process: pusher-js's Node build opens wss:// through faye-websocket with
// `new Client(url)` and offers no way to pass TLS options, so it cannot be handed a CA. Rather
// than switching verification off, the parent starts this script with NODE_EXTRA_CA_CERTS set to
// the test CA; Node reads that variable only at start-up, hence the child.
//
//   argv[2]  JSON {key, options, app: {key, secret}, user}: new Pusher(key, options), private and
//            presence channels signed with `app` the way a Laravel /broadcasting/auth would,
//            presence as `user` ({id, info}; default id "u-<pid>").
//   stdin    {"op":"subscribe","channel"} | {"op":"trigger","channel","event","data"} | {"op":"disconnect"}
//   stdout   {"type":"state","current","socketId"} | {"type":"subscribed","channel"[,"members","me"]}
//            {"type":"member_added"|"member_removed","channel","member":{id,info}}
//            {"type":"subscription_error","channel","error"} | {"type":"event","channel","event","data"}
//            {"type":"triggered","channel","event","ok"} | {"type":"connection_error","error"}

const readline = require('node:readline');
const Pusher = require('pusher-js');
const { channelAuthHandler } = require('./auth');

const { key, options, app, user = { id: `u-${process.pid}` } } = JSON.parse(process.argv[2]);

function report(msg) {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

const client = new Pusher(key, {
  ...options,
  channelAuthorization: { customHandler: channelAuthHandler(app, { user }) },
});
client.connection.bind('state_change', (states) =>
  report({ type: 'state', current: states.current, socketId: client.connection.socket_id || null }),
);
// TLS and socket failures arrive here (e.g. a certificate that does not verify).
client.connection.bind('error', (err) => {
  let text;
  try {
    text = JSON.stringify(err, (k, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v));
  } catch {
    text = String(err);
  }
  report({ type: 'connection_error', error: text });
});

const channels = new Map();
function subscribe(name) {
  const channel = client.subscribe(name);
  channels.set(name, channel);
  channel.bind('pusher:subscription_succeeded', () => {
    const msg = { type: 'subscribed', channel: name };
    if (channel.members) {
      // A presence channel: who pusher-js says is there ({id: info}) and who it says we are.
      msg.members = channel.members.members;
      msg.me = channel.members.me;
    }
    report(msg);
  });
  channel.bind('pusher:member_added', (member) => report({ type: 'member_added', channel: name, member }));
  channel.bind('pusher:member_removed', (member) => report({ type: 'member_removed', channel: name, member }));
  channel.bind('pusher:subscription_error', (error) => report({ type: 'subscription_error', channel: name, error }));
  channel.bind_global((event, data) => {
    if (!event.startsWith('pusher:')) report({ type: 'event', channel: name, event, data });
  });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.op === 'subscribe') subscribe(cmd.channel);
  else if (cmd.op === 'trigger') {
    const ok = channels.get(cmd.channel).trigger(cmd.event, cmd.data);
    report({ type: 'triggered', channel: cmd.channel, event: cmd.event, ok });
  } else if (cmd.op === 'disconnect') {
    client.disconnect();
    process.exit(0);
  }
});
// The parent going away (stdin closed) ends the client too, so nothing outlives a failed test.
process.stdin.on('end', () => process.exit(0));
