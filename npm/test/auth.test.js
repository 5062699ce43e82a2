// Authentication against a token-protected registry on 127.0.0.1 from the Node adapter and
// CLI: the bearer challenge with basic credentials, ACR refresh tokens, and no secret shown.
import { test } from 'node:test';
import { AuthenticationFailedError, CredentialsMissingError } from 'regprune';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { Transport, crawl, ACR_REFRESH_USER } from 'regprune/registry';

const SECRET = 's3cret-Pa55word';
const REFRESH = 'acr-refresh-token-xyz';
const cli = new URL('../cli.js', import.meta.url).pathname;

async function withServer(fn, { token = 'TOKEN-ok', password = SECRET } = {}) {
  const issued = [];
  // The Authorization headers the registry (not the token service) was shown.
  const presented = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const reply = (status, body, headers = {}) => { res.writeHead(status, { 'Content-Type': 'application/json', ...headers }); res.end(JSON.stringify(body)); };
    if (url.pathname === '/oauth2/token') {
      if (req.method === 'POST') {
        let data = '';
        req.on('data', (c) => { data += c; });
        req.on('end', () => {
          const form = new URLSearchParams(data);
          if (form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === REFRESH) { issued.push({ via: 'refresh', scope: form.get('scope') }); reply(200, { access_token: token }); } else reply(401, {});
        });
        return;
      }
      // RFC 7617 with UTF-8: what the core sends for any password.
      if (req.headers.authorization === `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`) { issued.push({ via: 'basic', scope: url.searchParams.get('scope') }); reply(200, { token }); } else reply(401, {});
      return;
    }
    if (url.pathname.startsWith('/acr/')) return reply(404, {});
    if (req.headers.authorization) presented.push(req.headers.authorization);
    if (req.headers.authorization !== 'Bearer TOKEN-ok') {
      const { port } = server.address();
      return reply(401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/oauth2/token",service="test.registry",scope="registry:catalog:*"` });
    }
    if (url.pathname === '/v2/_catalog') return reply(200, { repositories: [] });
    return reply(404, {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${server.address().port}`, issued, presented);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const run = (args, env = {}) => new Promise((resolve) => {
  const p = spawn('node', [cli, ...args], { env: { ...process.env, ...env } });
  let out = '', err = '';
  p.stdout.on('data', (c) => { out += c; });
  p.stderr.on('data', (c) => { err += c; });
  p.on('close', (code) => resolve({ code, out, err }));
});

test('bearer challenge with basic credentials, and ACR refresh tokens', () => withServer(async (url, issued) => {
  assert.deepEqual((await crawl(new Transport(url, { username: 'admin', password: SECRET }))).repositories, []);
  await crawl(new Transport(url, { username: ACR_REFRESH_USER, password: REFRESH }));
  assert.deepEqual(issued, [{ via: 'basic', scope: 'registry:catalog:*' }, { via: 'refresh', scope: 'registry:catalog:*' }]);
  await assert.rejects(crawl(new Transport(url)), /401/);
}));

for (const [what, token] of [['a line break', 'TOKEN-ok\r\nX-Injected: 1'], ['a space', 'TOKEN ok'], ['a number', 12345], ['an empty string', '']]) {
  test(`a token with ${what} from the token service is not used: the registry's 401 stands`, () => withServer(async (url, issued, presented) => {
    await assert.rejects(crawl(new Transport(url, { username: 'admin', password: SECRET })), (e) => e.name !== 'TypeError' && /401/.test(e.message));
    assert.ok(issued.length > 0, 'the token service was asked');
    assert.deepEqual(presented, [], 'no bearer token went to the registry');
  }, { token }));
}

test('the CLI never shows the password or the token', () => withServer(async (url) => {
  const ok = await run(['snapshot', '--registry', url, '--username', 'admin', '--password', SECRET]);
  assert.equal(ok.code, 0, ok.err);
  const bad = await run(['snapshot', '--registry', url], { REGPRUNE_USERNAME: 'admin', REGPRUNE_PASSWORD: `wrong-${SECRET}` });
  assert.notEqual(bad.code, 0);
  for (const text of [ok.out, ok.err, bad.out, bad.err]) {
    assert.ok(!text.includes(SECRET) && !text.includes('TOKEN-ok'), text);
  }
}));

test('credentials go to a plain-HTTP token service only on loopback (the core decides)', async () => {
  // A registry sending the client's password to a plain-HTTP token service elsewhere gets nothing.
  const seen = [];
  const fetchImpl = async (url, init) => {
    seen.push(String(url));
    if (String(url).startsWith('http://evil.example')) return new Response('{"token":"t"}', { status: 200 });
    return new Response('{}', { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="http://evil.example/token",service="r"' } });
  };
  const t = new Transport('http://127.0.0.1:9', { username: 'u', password: 'p', fetch: fetchImpl });
  await assert.rejects(crawl(t, { flavour: 'oci' }), (e) => {
    assert.ok(e instanceof AuthenticationFailedError, `${e.name}: ${e.message}`);
    assert.match(e.message, /plain HTTP/);
    return true;
  });
  assert.ok(seen.length > 0 && seen.every((url) => !url.startsWith('http://evil.example')), JSON.stringify(seen));
});

/** Runs `fn` with these environment variables set (and the credential ones cleared). */
async function withEnv(vars, fn) {
  const names = ['REGPRUNE_USERNAME', 'REGPRUNE_PASSWORD', 'DOCKER_CONFIG', 'PATH'];
  const saved = Object.fromEntries(names.map((k) => [k, process.env[k]]));
  delete process.env.REGPRUNE_USERNAME;
  delete process.env.REGPRUNE_PASSWORD;
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('a password outside Latin-1 is sent as UTF-8 (btoa would throw)', () => withServer(async (url) => {
  assert.deepEqual((await crawl(new Transport(url, { username: 'admin', password: 'pässwörd-✓-密码' }))).repositories, []);
}, { password: 'pässwörd-✓-密码' }));

test('no credentials: the error lists where the core looked; a wrong password is another error', () => withServer(async (url) => {
  const dir = mkdtempSync(join(tmpdir(), 'regprune-auth-'));
  await withEnv({ DOCKER_CONFIG: dir }, async () => {
    await assert.rejects(crawl(new Transport(url)), (e) => {
      assert.ok(e instanceof CredentialsMissingError, `${e.name}: ${e.message}`);
      assert.equal(e.exitCode, 4);
      assert.match(e.message, /REGPRUNE_USERNAME\/REGPRUNE_PASSWORD: not set/);
      assert.ok(e.message.includes(`${dir}/config.json: no such file`), e.message);
      return true;
    });
    await assert.rejects(crawl(new Transport(url, { username: 'admin', password: 'nope' })), (e) => {
      assert.ok(e instanceof AuthenticationFailedError, `${e.name}: ${e.message}`);
      assert.match(e.message, /credentials from --username\/--password were refused/);
      assert.ok(!e.message.includes('nope'));
      return true;
    });
  });
}));

test('a credential helper named by Docker\'s config is run as the core asks', () => withServer(async (url) => {
  const dir = mkdtempSync(join(tmpdir(), 'regprune-auth-'));
  const host = url.split('://')[1];
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'regprunetest' } }));
  mkdirSync(join(dir, 'bin'));
  const helper = join(dir, 'bin', 'docker-credential-regprunetest');
  writeFileSync(helper, `#!/bin/sh\nread server; [ "$1" = get ] && [ "$server" = "${host}" ] && echo '{"Username": "admin", "Secret": "${SECRET}"}'\n`);
  chmodSync(helper, 0o755);
  await withEnv({ DOCKER_CONFIG: dir, PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, async () => {
    const t = new Transport(url);
    assert.equal(t.credentialSource, 'docker-credential-regprunetest');
    const { inspect } = await import('node:util');
    assert.ok(!inspect(t, { depth: 5, showHidden: true }).includes(SECRET));
    assert.deepEqual((await crawl(t)).repositories, []);
  });
}));
