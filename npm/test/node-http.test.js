// The Node transport's HTTP client (node-http.js): answers as the fetch path does, and a
// failure (refused connection, reset, body cut short) is status 0, which the core retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { nodeRequester } from '../node-http.js';

async function serve(handler) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('status, lower-cased headers in order, exact body bytes, request body and headers sent', async () => {
  let seen;
  const s = await serve((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen = { method: req.method, accept: req.headers.accept, body: Buffer.concat(chunks).toString(), length: req.headers['content-length'] };
      res.writeHead(201, [['Docker-Content-Digest', 'sha256:abc'], ['Link', '</v2/x?n=1>; rel="next"'], ['Link', '</v2/y>; rel="other"']]);
      res.end(Buffer.from([0, 255, 1]));
    });
  });
  try {
    const send = nodeRequester();
    const r = await send('PUT', `${s.url}/v2/a/manifests/t`, { Accept: 'x/y' }, '{"a":1}');
    assert.equal(r.status, 201);
    assert.deepEqual([...r.body], [0, 255, 1]);
    assert.deepEqual(r.headers.filter(([k]) => k !== 'date' && k !== 'connection' && k !== 'keep-alive' && k !== 'content-length' && k !== 'transfer-encoding'), [
      ['docker-content-digest', 'sha256:abc'], ['link', '</v2/x?n=1>; rel="next"'], ['link', '</v2/y>; rel="other"'],
    ]);
    assert.deepEqual(seen, { method: 'PUT', accept: 'x/y', body: '{"a":1}', length: '7' });
  } finally {
    await s.close();
  }
});

test('a body shorter than its Content-Length, a reset and a refused connection are status 0', async () => {
  const s = await serve((req, res) => {
    if (req.url === '/short') {
      res.writeHead(200, { 'Content-Length': '10' });
      res.write('12345');
      setTimeout(() => res.socket.destroy(), 10);
    } else req.socket.destroy();
  });
  const send = nodeRequester();
  try {
    assert.equal((await send('GET', `${s.url}/short`, {})).status, 0);
    assert.equal((await send('GET', `${s.url}/reset`, {})).status, 0);
  } finally {
    await s.close();
  }
  assert.equal((await send('GET', s.url.replace(/:\d+$/, ':9'), {})).status, 0, 'nothing listens on port 9');
});

test('HEAD returns headers without waiting for a body', async () => {
  const s = await serve((req, res) => {
    res.writeHead(200, { 'Content-Length': '1234', 'Docker-Content-Digest': 'sha256:def' });
    res.end();
  });
  try {
    const r = await nodeRequester()('HEAD', `${s.url}/v2/a/manifests/t`, {});
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers.find(([k]) => k === 'docker-content-digest')[1], 'sha256:def');
  } finally {
    await s.close();
  }
});
