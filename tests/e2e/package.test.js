'use strict';

// scripts/package: builds the .deb (its own release build, prefix /usr) and the package holds
// what it should. The fast part of the packaging check; installing it into a fresh Debian 12
// root (debootstrap, minutes) is done by hand, as the README's "Packaging" says.

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, it, before } = require('node:test');

const REPO = path.resolve(__dirname, '..', '..');
const T = { timeout: 30 * 60 * 1000 }; // a release build of its own, on a busy 2-core machine

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: REPO, maxBuffer: 64 * 1024 * 1024, ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const hasDpkg = spawnSync('dpkg-deb', ['--version']).status === 0;

describe('scripts/package', { skip: !hasDpkg && 'dpkg-deb is not installed' }, () => {
  let deb;
  let stage;

  before(() => {
    const out = run('scripts/package', [], { timeout: T.timeout - 60000 });
    deb = path.join(REPO, out.trim().split('\n').pop());
    stage = path.join(REPO, process.env.RINGCAST_PACKAGE_BUILD_DIR || 'build-package', 'stage');
  });

  it('control: name, version, no liburing, llhttp or simdjson among the dependencies, the config a conffile', T, () => {
    const info = run('dpkg-deb', ['--info', deb]);
    assert.match(info, /^ Package: ringcast$/m);
    const version = run(path.join(stage, 'usr/bin/ringcast'), ['--version']).trim().split(' ')[1];
    assert.match(info, new RegExp(`^ Version: ${version.replace(/\./g, '\\.')}$`, 'm'));
    const depends = (/^ Depends: (.*)$/m.exec(info) || [])[1] || '';
    assert.match(depends, /libc6/);
    assert.doesNotMatch(depends, /liburing|llhttp|simdjson/);
    assert.equal(run('dpkg-deb', ['--field', deb, 'Package']).trim(), 'ringcast');
    const conffiles = spawnSync('sh', ['-c', `dpkg-deb --ctrl-tarfile "${deb}" | tar -xOf - ./conffiles`], { encoding: 'utf8' });
    assert.equal(conffiles.stdout.trim(), '/etc/ringcast/ringcast.json');
    const postinst = spawnSync('sh', ['-c', `dpkg-deb --ctrl-tarfile "${deb}" | tar -xOf - ./postinst`], { encoding: 'utf8' });
    assert.match(postinst.stdout, /useradd --system .* ringcast/s);
  });

  it('contents: the binary, the man page, the unit, the config and the examples', T, () => {
    const contents = run('dpkg-deb', ['--contents', deb]);
    for (const file of ['./usr/bin/ringcast', './usr/share/man/man1/ringcast.1.gz', './usr/lib/systemd/system/ringcast.service',
      './etc/ringcast/ringcast.json', './usr/share/doc/ringcast/README.md', './usr/share/doc/ringcast/examples/nginx-ringcast.conf',
      './usr/share/doc/ringcast/examples/supervisor-ringcast.conf']) {
      assert.ok(contents.split('\n').some((l) => l.endsWith(` ${file}`)), `${file} is not in the package:\n${contents}`);
    }
    assert.match(contents, /^-rw-r----- root\/root .* \.\/etc\/ringcast\/ringcast\.json$/m);
    const unit = run('sh', ['-c', `dpkg-deb --fsys-tarfile "${deb}" | tar -xOf - ./usr/lib/systemd/system/ringcast.service`]);
    assert.match(unit, /^ExecStart=\/usr\/bin\/ringcast start --config \/etc\/ringcast\/ringcast\.json$/m);
    assert.match(unit, /^LimitNOFILE=/m);
  });

  it('the binary: liburing, llhttp and simdjson built in, not needed at run time', T, () => {
    const libs = run('ldd', [path.join(stage, 'usr/bin/ringcast')]);
    assert.doesNotMatch(libs, /liburing|llhttp|simdjson/);
    assert.match(run('sh', ['-c', `zcat "${path.join(stage, 'usr/share/man/man1/ringcast.1.gz')}" | head -1`]), /^\.TH RINGCAST 1/);
  });
});
