'use strict';

// Signatures an application server hands to its clients (spec §1.8), computed with node:crypto
// the way Laravel's /broadcasting/auth and /broadcasting/user-auth (through pusher-php) do, and
// pusher-js handlers built on them.
//
//   privateAuth(app, socketId, channel)                 -> "key:hex"
//   presenceAuth(app, socketId, channel, channelData)   -> {auth, channel_data}  (channelData: string)
//   userAuth(app, socketId, userData)                   -> {auth, user_data}     (userData: string)
//   encryptedAuth(app, socketId, channel, masterKey)    -> {auth, shared_secret}
//   channelAuthHandler(app, opts) / userAuthHandler(app, user)  -> pusher-js customHandler functions

const crypto = require('node:crypto');

function hmacHex(secret, text) {
  return crypto.createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

function privateAuth(app, socketId, channel) {
  return `${app.key}:${hmacHex(app.secret, `${socketId}:${channel}`)}`;
}

// channelData must be the exact string that will be sent: it is what gets signed.
function presenceAuth(app, socketId, channel, channelData) {
  return {
    auth: `${app.key}:${hmacHex(app.secret, `${socketId}:${channel}:${channelData}`)}`,
    channel_data: channelData,
  };
}

// The channel_data string pusher-php's authorizePresenceChannel builds (user id cast to string).
function presenceChannelData(userId, userInfo) {
  const data = { user_id: userId };
  if (userInfo !== undefined) data.user_info = userInfo;
  return JSON.stringify(data);
}

function userAuth(app, socketId, userData) {
  return {
    auth: `${app.key}:${hmacHex(app.secret, `${socketId}::user::${userData}`)}`,
    user_data: userData,
  };
}

// The per-channel key pusher-http-node derives for private-encrypted- channels:
// SHA256(channel name || master key), base64.
function sharedSecret(channel, masterKey) {
  return crypto.createHash('sha256').update(Buffer.concat([Buffer.from(channel), masterKey])).digest('base64');
}

function encryptedAuth(app, socketId, channel, masterKey) {
  return { auth: privateAuth(app, socketId, channel), shared_secret: sharedSecret(channel, masterKey) };
}

// A pusher-js `channelAuthorization.customHandler` answering like a Laravel app would:
//   user:        {id, info} used for presence channels (id sent as a string, like pusher-php)
//   presence:    (channelName, socketId) => channel_data string, overrides `user`
//   noChannelData: presence answers carry no channel_data (the connection signs in instead)
//   masterKey:   Buffer; enables shared_secret for private-encrypted- channels
//   tamper:      (authString, channelName) => string, to hand out a wrong signature on purpose
//   calls:       optional array that records every {socketId, channelName} asked for
function channelAuthHandler(app, { user, presence, noChannelData = false, masterKey, tamper, calls } = {}) {
  return ({ socketId, channelName }, callback) => {
    if (calls) calls.push({ socketId, channelName });
    let result;
    if (channelName.startsWith('presence-')) {
      if (noChannelData) {
        result = { auth: privateAuth(app, socketId, channelName) };
      } else {
        const channelData = presence
          ? presence(channelName, socketId)
          : presenceChannelData(String(user.id), user.info);
        result = presenceAuth(app, socketId, channelName, channelData);
      }
    } else if (channelName.startsWith('private-encrypted-')) {
      if (!masterKey) {
        callback(new Error('no encryption master key configured'), null);
        return;
      }
      result = encryptedAuth(app, socketId, channelName, masterKey);
    } else {
      result = { auth: privateAuth(app, socketId, channelName) };
    }
    if (tamper) result.auth = tamper(result.auth, channelName);
    // Answer asynchronously, like an HTTP round trip would.
    setImmediate(() => callback(null, result));
  };
}

// A pusher-js `userAuthentication.customHandler` signing `user` (an object, JSON-encoded here)
// or a ready-made user_data string.
function userAuthHandler(app, user, { tamper } = {}) {
  const userData = typeof user === 'string' ? user : JSON.stringify(user);
  return ({ socketId }, callback) => {
    const result = userAuth(app, socketId, userData);
    if (tamper) result.auth = tamper(result.auth);
    setImmediate(() => callback(null, result));
  };
}

module.exports = {
  hmacHex,
  privateAuth,
  presenceAuth,
  presenceChannelData,
  userAuth,
  sharedSecret,
  encryptedAuth,
  channelAuthHandler,
  userAuthHandler,
};
