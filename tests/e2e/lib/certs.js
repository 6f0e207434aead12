'use strict';

// Throw-away certificates for the TLS tests, made with the openssl CLI into a temp dir (never in
// the repository: *.pem, *.key and *.crt are gitignored anyway), once per test process:
//
//   const c = await testCertificates();
//   c.ca                    {file, pem}            the CA that signs every server certificate
//   c.localhost             {cert, key, serial}    localhost + IP 127.0.0.1, serial SERIALS.localhost
//   c.localhost2            {cert, key, serial}    the same names, another key and serial (a renewal)
//   c.other                 {cert, key, serial}    other.test and *.wild.test (chosen by SNI)
//   c.encrypted             {cert, key, passphrase} c.localhost's certificate, its key encrypted
//   c.mismatched            {cert, key}            c.localhost's certificate with c.other's key
//   c.clientCa              {file, pem}            the CA the server trusts for client certificates
//   c.client                {cert, key, certPem, keyPem}  a client certificate c.clientCa signs
//   c.strayClient           {cert, key, certPem, keyPem}  a client certificate c.ca signs (not a client CA)
//   c.dir                   the temp dir (removed when the process exits)
//
// cert/key are file paths; certPem/keyPem/pem are the contents. Serials are hex, upper case, as
// Node's getPeerCertificate().serialNumber spells them. copyPair() copies a pair somewhere else
// (a test that rewrites its server's files must not touch the shared ones).

const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const OPENSSL = process.env.RINGCAST_OPENSSL || 'openssl';
const DAYS = '2';
const SERIALS = Object.freeze({ localhost: '1001', localhost2: '2002', other: '3003', client: '4004', strayClient: '5005' });
const PASSPHRASE = 'e2e passphrase: correct horse';

function run(args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, args, { cwd, timeout: 20000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${OPENSSL} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// An EC P-256 key and a CSR for `cn` in dir/name.key and dir/name.csr.
async function keyAndCsr(dir, name, cn) {
  await run([
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
  ], dir);
}

// A self-signed CA in dir/name.pem (key dir/name.key).
async function makeCa(dir, name, cn) {
  await run([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', DAYS, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], dir);
  const file = path.join(dir, `${name}.pem`);
  return { file, pem: fs.readFileSync(file) };
}

// dir/name.pem signed by the CA `ca` (its files ca.pem/ca.key in dir), with `extensions`
// (lines of an openssl extension file) and a fixed serial.
async function sign(dir, name, ca, serial, extensions) {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await run([
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${serial}`, '-days', DAYS, '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ], dir);
}

function serverExtensions(names) {
  return [
    `subjectAltName=${names.join(',')}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ];
}

const CLIENT_EXTENSIONS = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];

async function make() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-e2e-certs-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const p = (name) => path.join(dir, name);

  const ca = await makeCa(dir, 'ca', 'ringcast e2e CA');
  const clientCa = await makeCa(dir, 'client-ca', 'ringcast e2e client CA');

  const servers = [
    ['localhost', 'localhost', ['DNS:localhost', 'IP:127.0.0.1']],
    ['localhost2', 'localhost', ['DNS:localhost', 'IP:127.0.0.1']],
    ['other', 'other.test', ['DNS:other.test', 'DNS:*.wild.test']],
  ];
  for (const [name, cn, names] of servers) {
    await keyAndCsr(dir, name, cn);
    await sign(dir, name, 'ca', SERIALS[name], serverExtensions(names));
  }
  for (const [name, signer] of [['client', 'client-ca'], ['strayClient', 'ca']]) {
    await keyAndCsr(dir, name, `ringcast e2e ${name}`);
    await sign(dir, name, signer, SERIALS[name], CLIENT_EXTENSIONS);
  }
  await run(['pkey', '-in', 'localhost.key', '-aes256', '-passout', `pass:${PASSPHRASE}`, '-out', 'encrypted.key'], dir);

  const pair = (name) => ({ cert: p(`${name}.pem`), key: p(`${name}.key`), serial: SERIALS[name] });
  const clientPair = (name) => ({
    ...pair(name),
    certPem: fs.readFileSync(p(`${name}.pem`)),
    keyPem: fs.readFileSync(p(`${name}.key`)),
  });
  const made = {
    dir,
    ca,
    clientCa,
    localhost: pair('localhost'),
    localhost2: pair('localhost2'),
    other: pair('other'),
    encrypted: { cert: p('localhost.pem'), key: p('encrypted.key'), passphrase: PASSPHRASE, serial: SERIALS.localhost },
    mismatched: { cert: p('localhost.pem'), key: p('other.key') },
    client: clientPair('client'),
    strayClient: clientPair('strayClient'),
  };
  // What the files must be, checked once here so a test never blames the server for a bad fixture.
  const leaf = new crypto.X509Certificate(fs.readFileSync(made.localhost.cert));
  if (!leaf.verify(new crypto.X509Certificate(ca.pem).publicKey) || leaf.serialNumber !== SERIALS.localhost) {
    throw new Error(`the test certificate ${made.localhost.cert} is not what certs.js meant to make`);
  }
  return made;
}

let cached = null;
function testCertificates() {
  if (!cached) cached = make();
  return cached;
}

// Copies pair.cert and pair.key to dir/<prefix>-cert.pem and -key.pem (overwriting) and returns
// the new paths: the reload test rewrites its own copies, never the shared files.
function copyPair(pair, dir, prefix = 'server') {
  const cert = path.join(dir, `${prefix}-cert.pem`);
  const key = path.join(dir, `${prefix}-key.pem`);
  // Write then rename, so a SIGHUP never catches a half-written file.
  for (const [from, to] of [[pair.cert, cert], [pair.key, key]]) {
    fs.copyFileSync(from, `${to}.tmp`);
    fs.renameSync(`${to}.tmp`, to);
  }
  return { cert, key, serial: pair.serial };
}

// base64 of the SHA-256 of a certificate's SubjectPublicKeyInfo (Chromium's
// --ignore-certificate-errors-spki-list wants it this way).
function spkiHash(certFile) {
  const der = new crypto.X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

module.exports = { testCertificates, copyPair, spkiHash, SERIALS, PASSPHRASE };
