// The Node transport's HTTP client (node-http.js): answers as the fetch path does, and a
// failure (refused connection, reset, body cut short, a malformed answer, a timeout) is status
// 0, which the core retries. Raw servers (node:net) say exactly which bytes come back and when,
// and count the connections the client opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { MAX_BODY, nodeRequester } from '../node-http.js';
import { InvalidOperationError } from 'regprune';
import { Transport } from 'regprune/registry';

// A client that lost step with a server waits for an answer that never comes: fail instead.
const limit = { timeout: 10_000 };
const fixture = (name) => readFileSync(new URL(`fixtures/tls/${name}`, import.meta.url));

async function serve(handler) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('status, lower-cased headers in order, exact body bytes, request body and headers sent', limit, async () => {
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

test('a body shorter than its Content-Length, a reset and a refused connection are status 0', limit, async () => {
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

test('HEAD returns headers without waiting for a body', limit, async () => {
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

/**
 * A raw HTTP/1.1 server: `answer(request, index, socket)` gets each request's head (text) and
 * its number on that connection, and writes whatever bytes it likes (pieces written apart).
 */
async function raw(answer) {
  const sockets = new Set();
  const heads = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let index = 0;
    socket.on('data', async (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        heads.push(head);
        const pieces = answer(head, index++, socket) ?? [];
        for (const piece of pieces) {
          if (socket.destroyed) return;
          socket.write(piece);
          // Apart: each piece reaches the client in its own read.
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  let connections = 0;
  server.on('connection', () => { connections += 1; });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    heads,
    connections: () => connections,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(r);
    }),
  };
}

const text = (r) => Buffer.from(r.body).toString('latin1');

/** Runs `body(send, server)` against a raw server answering with `answer`, then closes both. */
async function against(answer, body, options) {
  const s = await raw(answer);
  const send = nodeRequester(options);
  try {
    await body(send, s);
  } finally {
    send.close();
    await s.close();
  }
}

test('a chunked body in one-byte pieces, with extensions and trailers; the connection is then reused', limit, async () => {
  const message = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n';
  await against((head, i) => (i === 0 ? [...message] : ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']), async (send, s) => {
    const r = await send('GET', `${s.url}/v2/a/tags/list`, {});
    assert.equal(r.status, 200);
    assert.equal(text(r), 'Wikipedia in \r\n\r\nchunks.');
    assert.deepEqual(r.headers, [['transfer-encoding', 'chunked'], ['x-a', '1']]);
    assert.equal(text(await send('GET', `${s.url}/second`, {})), 'ok');
    assert.equal(s.connections(), 1);
  });
});

test('keep-alive: sequential requests share one connection, concurrent ones one each', limit, async () => {
  await against((head) => [`HTTP/1.1 202 Accepted\r\nContent-Length: ${head.length}\r\n\r\n${head}`], async (send, s) => {
    for (let i = 0; i < 20; i++) {
      const r = await send('DELETE', `${s.url}/v2/a/manifests/sha256:${i}`, { Accept: 'x/y' });
      assert.equal(r.status, 202);
      assert.equal(text(r), `DELETE /v2/a/manifests/sha256:${i} HTTP/1.1\r\nHost: ${s.url.slice(7)}\r\nAccept: x/y`);
    }
    assert.equal(s.connections(), 1);
    const all = await Promise.all(Array.from({ length: 5 }, (_, i) => send('GET', `${s.url}/${i}`, {})));
    assert.deepEqual(all.map((r) => r.status), [202, 202, 202, 202, 202]);
    assert.equal(s.connections(), 5, 'one reused, four new');
    for (let i = 0; i < 5; i++) await send('GET', `${s.url}/again`, {});
    assert.equal(s.connections(), 5, 'the idle ones are reused');
  });
});

test('at most 32 idle connections are kept per origin; the rest are closed', limit, async () => {
  await against(() => ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], async (send, s) => {
    const burst = () => Promise.all(Array.from({ length: 40 }, (_, i) => send('GET', `${s.url}/${i}`, {})));
    await burst();
    assert.equal(s.connections(), 40);
    await burst();
    assert.equal(s.connections(), 48, '32 reused, 8 new');
  });
});

test('Connection: close, HTTP/1.0 and a body read until close: right bodies, no reuse', limit, async () => {
  const answers = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\na'],
    ['HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb'],
    ['HTTP/1.1 200 OK\r\n\r\nuntil', ' close'],
  ];
  let n = 0;
  await against((head, i, socket) => {
    const pieces = answers[n++];
    setTimeout(() => socket.end(), 30);
    return pieces;
  }, async (send, s) => {
    assert.deepEqual([text(await send('GET', `${s.url}/1`, {})), text(await send('GET', `${s.url}/2`, {})), text(await send('GET', `${s.url}/3`, {}))], ['a', 'b', 'until close']);
    assert.equal(s.connections(), 3);
  });
});

test('no body for 204, 304 and HEAD; interim 100 and 103 answers are skipped', limit, async () => {
  await against((head) => {
    if (head.startsWith('GET /204')) return ['HTTP/1.1 204 No Content\r\n\r\n'];
    if (head.startsWith('GET /304')) return ['HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n'];
    if (head.startsWith('HEAD')) return ['HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'];
    return ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', 'HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew'];
  }, async (send, s) => {
    const got = [];
    for (const [m, p] of [['GET', '/204'], ['GET', '/304'], ['HEAD', '/h'], ['PUT', '/put']]) {
      const r = await send(m, s.url + p, {}, m === 'PUT' ? 'body' : undefined);
      got.push([r.status, text(r)]);
    }
    assert.deepEqual(got, [[204, ''], [304, ''], [200, ''], [201, 'new']]);
    assert.equal(s.connections(), 1, 'each answer ended where it should, so the connection stayed in step');
    assert.match(s.heads[3], /\r\nContent-Length: 4$/);
  });
});

test('malformed answers are status 0 and their connection is not reused', limit, async () => {
  const bad = {
    '/line': ['HTTP/2 200 OK\r\n\r\n'],
    '/length': ['HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab'],
    '/negative': ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    '/chunk': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    '/overrun': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n'],
    '/field': ['HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n'],
    '/huge': [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70 * 1024)}\r\n\r\n`],
    '/switch': ['HTTP/1.1 101 Switching Protocols\r\n\r\n'],
  };
  await against((head) => bad[head.split(' ')[1]] ?? ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], async (send, s) => {
    for (const path of Object.keys(bad)) {
      assert.equal((await send('GET', s.url + path, {})).status, 0, path);
      const before = s.connections();
      assert.equal((await send('GET', `${s.url}/fine`, {})).status, 200, `after ${path}`);
      assert.equal(s.connections(), before + 1, `${path}: the next request opened a connection of its own`);
    }
  });
});

test('a body longer than the limit is refused as soon as it is known to be, by any framing; the limit itself is fine', limit, async () => {
  const answers = {
    '/declared': ['HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n'],
    '/chunks': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n', '5\r\n'],
    '/until-close': ['HTTP/1.1 200 OK\r\n\r\nabcdef', 'ghijk'],
    '/exact': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n'],
  };
  await against((head) => answers[head.split(' ')[1]], async (send, s) => {
    for (const path of ['/declared', '/chunks', '/until-close']) {
      await assert.rejects(send('GET', s.url + path, {}), (e) => e instanceof InvalidOperationError && e.code === 'invalid_operation' && e.path === path && e.message === `${path}: the registry sent more than 10 bytes`);
    }
    assert.equal(text(await send('GET', `${s.url}/exact`, {})), 'abcdefghij');
  }, { maxBody: 10 });
});

test('the Transport refuses an overlong body as the Python adapter does: a typed error naming the path', limit, async () => {
  await against(() => [`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`], async (_, s) => {
    const t = new Transport(s.url);
    await assert.rejects(t.send({ method: 'GET', path: '/v2/_catalog?n=1', headers: [], scope: '' }), (e) => e instanceof InvalidOperationError && e.code === 'invalid_operation' && e.path === '/v2/_catalog?n=1' && e.message === `/v2/_catalog?n=1: the registry sent more than ${MAX_BODY} bytes`);
  });
});

test('bytes beyond an answer put the connection out of step: the answer counts, the connection goes', limit, async () => {
  await against(() => ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n\r\n'], async (send, s) => {
    assert.equal(text(await send('GET', `${s.url}/a`, {})), 'a');
    assert.equal(text(await send('GET', `${s.url}/b`, {})), 'a');
    assert.equal(s.connections(), 2);
  });
});

test('a reused connection that closes before answering: idempotent requests are sent again once, POST is status 0', limit, async () => {
  // Each connection answers its first request and drops the second without a word, as a
  // server does when its idle timeout crosses a request.
  await against((head, i, socket) => {
    if (i === 0) return [`HTTP/1.1 200 OK\r\nContent-Length: ${head.split(' ')[1].length}\r\n\r\n${head.split(' ')[1]}`];
    socket.destroy();
    return [];
  }, async (send, s) => {
    assert.equal(text(await send('GET', `${s.url}/one`, {})), '/one');
    const again = await send('DELETE', `${s.url}/two`, {});
    assert.deepEqual([again.status, text(again)], [200, '/two']);
    assert.equal(s.connections(), 2);
    assert.equal((await send('POST', `${s.url}/token`, {}, 'grant')).status, 0);
    assert.equal(s.connections(), 2, 'POST was not sent again');
  });
});

test('a request that would not be well-formed is refused before anything is sent, naming the field but not its value', limit, async () => {
  await against(() => ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], async (send, s) => {
    await assert.rejects(send('GET', `${s.url}/a`, { Authorization: 'Bearer secret\r\nX-Injected: 1' }), (e) => e instanceof TypeError && /Authorization/.test(e.message) && !/secret/.test(e.message));
    await assert.rejects(send('GET', `${s.url}/a`, { 'Bad Name': 'x' }), /Bad Name/);
    await assert.rejects(send('GET', `${s.url}/a`, { Host: 'elsewhere' }), /Host is written by the HTTP client/);
    await assert.rejects(send('GE T', `${s.url}/a`, {}), /not a token/);
    assert.equal(s.connections(), 0);
  });
});

test('no answer within the timeout is status 0', limit, async () => {
  await against(() => [], async (send, s) => {
    assert.equal((await send('GET', `${s.url}/silent`, {})).status, 0);
  }, { timeoutMs: 50 });
});

test('https: the server is verified against the trusted roots (a test CA here), and connections are kept alive', limit, async () => {
  let connections = 0;
  const server = https.createServer({ key: fixture('key.pem'), cert: fixture('cert.pem') }, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`${req.method} ${req.url}`);
  });
  server.on('secureConnection', () => { connections += 1; });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const trusting = nodeRequester({ tls: { ca: fixture('cert.pem') } });
  const untrusting = nodeRequester();
  try {
    for (const host of ['127.0.0.1', 'localhost', '127.0.0.1', 'localhost']) {
      const r = await trusting('GET', `https://${host}:${port}/v2/?n=1`, {});
      assert.deepEqual([r.status, text(r)], [200, 'GET /v2/?n=1']);
    }
    assert.equal(connections, 2, 'one connection per origin');
    assert.equal((await untrusting('GET', `https://127.0.0.1:${port}/v2/`, {})).status, 0, 'an unknown certificate fails');
  } finally {
    trusting.close();
    untrusting.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

/** Writes `piece` every `everyMs` until `times` were written or the client hung up; counts them. */
function trickle(socket, piece, everyMs, times, sent) {
  const timer = setInterval(() => {
    if (socket.destroyed || sent.n >= times) return clearInterval(timer);
    socket.write(piece);
    sent.n += 1;
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

test('an answer that trickles in (a byte at a time, never idle long) ends at the deadline: status 0', limit, async () => {
  const sent = { n: 0 };
  await against((head, i, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n');
    trickle(socket, 'x', 10, 400, sent);
  }, async (send, s) => {
    const r = await send('GET', `${s.url}/slow`, {});
    assert.equal(r.status, 0);
    assert.ok(sent.n < 400, `the client hung up before the answer ended (${sent.n} of 400 bytes)`);
  }, { timeoutMs: 1000, deadlineMs: 300 });
});

test('endless interim answers are a failure, not a wait', limit, async () => {
  const sent = { n: 0 };
  await against((head, i, socket) => trickle(socket, 'HTTP/1.1 100 Continue\r\n\r\n', 5, 1000, sent), async (send, s) => {
    const r = await send('GET', `${s.url}/continue`, {});
    assert.equal(r.status, 0);
    assert.ok(sent.n < 1000, `${sent.n} interim answers were read`);
  }, { timeoutMs: 1000, deadlineMs: 60_000 });
});

test('the Transport takes its timeout and deadline in seconds and refuses nonsense', limit, async () => {
  assert.throws(() => new Transport('http://127.0.0.1:1', { deadline: 0 }), (e) => e instanceof InvalidOperationError && /deadline/.test(e.message));
  assert.throws(() => new Transport('http://127.0.0.1:1', { timeout: -1 }), (e) => e instanceof InvalidOperationError && /timeout/.test(e.message));
  const sent = { n: 0 };
  await against((head, i, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n');
    trickle(socket, 'x', 10, 400, sent);
  }, async (_send, s) => {
    const t = new Transport(s.url, { timeout: 1, deadline: 0.3 });
    const r = await t.send({ method: 'GET', path: '/v2/', headers: [], scope: '' });
    assert.equal(r.status, 0);
    assert.ok(sent.n < 400);
  });
});
