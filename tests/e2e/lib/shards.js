'use strict';

// Which shard (thread) serves a connection, read from the server's --debug log, where every
// outgoing frame is logged as "[shard N] <socket_id> <- <frame>". Lets a test place connections
// on chosen shards instead of trusting the kernel's SO_REUSEPORT spread. Needs a server started
// with args: ['--debug'].

const { connectPusher, closeAll } = require('./ws');
const { waitUntil } = require('./util');

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Resolves with the shard number that logged the socket's connection_established.
async function shardOf(server, socketId, timeout = 3000) {
  const re = new RegExp(`\\[shard (\\d+)\\] ${escapeRe(socketId)} <- `);
  let shard = null;
  await waitUntil(
    () => {
      const m = re.exec(server.log());
      if (m) shard = Number(m[1]);
      return m !== null;
    },
    { timeout, label: `shard of ${socketId} in the --debug log (is the server running with --debug?)` },
  );
  return shard;
}

// Opens connections until there are at least `perShard` on each of `shards` shards (bounded
// by maxConnections). Resolves with an array indexed by shard of arrays of connections; the
// surplus connections are closed.
async function openOnShards(server, perShard, { key = 'app-key', shards = 2, maxConnections = 200 } = {}) {
  const byShard = Array.from({ length: shards }, () => []);
  const surplus = [];
  let opened = 0;
  try {
    while (byShard.some((list) => list.length < perShard)) {
      if (opened >= maxConnections) {
        throw new Error(`${maxConnections} connections did not give ${perShard} per shard: ${byShard.map((l) => l.length)}`);
      }
      const batch = await Promise.all(Array.from({ length: 8 }, () => connectPusher(server.wsUrl(key))));
      opened += batch.length;
      for (const c of batch) {
        const shard = await shardOf(server, c.socketId);
        c.shard = shard;
        if (shard < shards && byShard[shard].length < perShard) byShard[shard].push(c);
        else surplus.push(c);
      }
    }
  } catch (err) {
    await closeAll([...surplus, ...byShard.flat()]);
    throw err;
  }
  await closeAll(surplus);
  return byShard;
}

module.exports = { shardOf, openOnShards };
