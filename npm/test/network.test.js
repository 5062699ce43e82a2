// The transport (undici) on a real network of 127.0.0.1: a registry behind TLS with its own CA
// (SSL_CERT_FILE), an HTTP CONNECT proxy (HTTPS_PROXY, NO_PROXY), a name that does not resolve,
// and answers that trickle in past the deadline. The TLS registry and the proxy are
// tests/netfixture.py, shared with the Python suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RegistryUnreachableError } from 'regprune';
import { Transport, crawl } from 'regprune/registry';

const FIXTURE = new URL('../../tests/netfixture.py', import.meta.url).pathname;
const ENV = ['SSL_CERT_FILE', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'REGPRUNE_USERNAME', 'REGPRUNE_PASSWORD'];
let fixture;
let info;

before(async () => {
  fixture = spawn('python3', [FIXTURE, mkdtempSync(join(tmpdir(), 'regprune-net-'))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = await createInterface({ input: fixture.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]);
  info = JSON.parse(line);
});
after(() => fixture.stdin.end());

/** Runs `fn` with exactly `vars` of the proxy and CA variables set. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, { DOCKER_CONFIG: '/nonexistent' }, vars);
  try {
    return await fn();
  } finally {
    for (const k of ENV) delete process.env[k];
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
}

const connects = async () => (await (await fetch(`${info.proxy}/connects`)).json());
const host = () => info.registry.split('://')[1];

test('a certificate from an unknown CA is unreachable (exit 3)', () => withEnv({}, async () => {
  await assert.rejects(crawl(new Transport(info.registry)), (e) => {
    assert.ok(e instanceof RegistryUnreachableError, `${e.name}: ${e.message}`);
    assert.match(e.message, /TLS/);
    assert.equal(e.exitCode, 3);
    assert.equal(e.path, host());
    return true;
  });
}));

test('SSL_CERT_FILE is trusted', () => withEnv({ SSL_CERT_FILE: info.ca }, async () => {
  const t = new Transport(info.registry);
  assert.deepEqual((await crawl(t)).repositories, []);
  await t.close();
}));

test('HTTPS_PROXY tunnels, NO_PROXY bypasses', async () => {
  let before = (await connects()).length;
  await withEnv({ SSL_CERT_FILE: info.ca, HTTPS_PROXY: info.proxy }, async () => {
    const t = new Transport(info.registry);
    assert.deepEqual((await crawl(t)).repositories, []);
    await t.close();
  });
  const tunnelled = (await connects()).slice(before);
  assert.ok(tunnelled.length > 0);
  assert.deepEqual([...new Set(tunnelled)], [host()]);
  before = (await connects()).length;
  await withEnv({ SSL_CERT_FILE: info.ca, HTTPS_PROXY: info.proxy, NO_PROXY: '127.0.0.1' }, async () => {
    const t = new Transport(info.registry);
    assert.deepEqual((await crawl(t)).repositories, []);
    await t.close();
  });
  assert.equal((await connects()).length, before);
});

test('HTTP_PROXY tunnels plain HTTP too', async () => {
  const before = (await connects()).length;
  await withEnv({ HTTP_PROXY: info.proxy }, async () => {
    const t = new Transport(info.plain);
    assert.deepEqual((await crawl(t)).repositories, []);
    await t.close();
  });
  assert.deepEqual([...new Set((await connects()).slice(before))], [info.plain.split('://')[1]]);
});

test('a name that does not resolve fails at once as unreachable, naming the host', () => withEnv({}, async () => {
  await assert.rejects(crawl(new Transport('https://regprune-test.invalid')), (e) => {
    assert.ok(e instanceof RegistryUnreachableError, `${e.name}: ${e.message}`);
    assert.equal(e.path, 'regprune-test.invalid');
    assert.match(e.message, /does not resolve/);
    assert.doesNotMatch(e.message, /\/acr\//);
    return true;
  });
}));

/** A raw server that writes `head`, then `piece` every `everyMs`, until the client hangs up. */
async function trickling(head, piece, everyMs, times, fn) {
  let sent = 0;
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write(head);
      const timer = setInterval(() => {
        if (sent >= times || socket.destroyed) return clearInterval(timer);
        socket.write(piece);
        sent += 1;
      }, everyMs);
      socket.on('close', () => clearInterval(timer));
      socket.on('error', () => clearInterval(timer));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`, () => sent);
  } finally {
    server.close();
  }
}

// undici refuses a stream of interim answers by itself (a socket error) before the deadline.
for (const [what, head, piece, failures] of [
  ['an answer that trickles in', 'HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n', 'x', ['timeout']],
  ['endless interim answers', '', 'HTTP/1.1 100 Continue\r\n\r\n', ['timeout', 'UND_ERR_SOCKET']],
]) {
  test(`${what} ends by the deadline`, () => trickling(head, piece, 10, 400, async (url, sent) => {
    const t = new Transport(url, { timeout: 1, deadline: 0.3 });
    const res = await t.send({ method: 'GET', url: `${url}/v2/`, headers: [] });
    assert.equal(res.status, 0);
    assert.ok(failures.includes(res.failure), res.failure);
    assert.ok(sent() < 400, `the client hung up before the answer ended (${sent()} of 400)`);
    await t.close();
  }));
}
