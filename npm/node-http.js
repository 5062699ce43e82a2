// The Node transport's requests, on node:http(s) with keep-alive agents. Node's global `fetch`
// (undici) spends about a millisecond of CPU per request, which caps deletions well below what
// the registry serves (bench/FINDINGS.md); this sends the same requests for a fraction of that.
// It answers like the adapter's fetch path: status 0 for a failure to connect, a reset, a
// timeout or a body shorter than its Content-Length (retried by the core).
import http from 'node:http';
import https from 'node:https';

const FAILED = Object.freeze({ status: 0, headers: [], body: new Uint8Array() });
/** No answer within this long is a failure (the core retries). */
const TIMEOUT_MS = 300_000;

/** A `(method, url, headers, body) => Promise<{status, headers, body}>` for one Transport. */
export function nodeRequester() {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  return (method, url, headers, body) =>
    new Promise((resolve) => {
      const u = new URL(url);
      const send = u.protocol === 'https:' ? https.request : http.request;
      const payload = body === undefined ? undefined : Buffer.from(body);
      const all = payload === undefined ? headers : { ...headers, 'Content-Length': String(payload.length) };
      const req = send(u, { method, headers: all, agent: agents[u.protocol], timeout: TIMEOUT_MS }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', () => resolve(FAILED));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          const expected = Number(res.headers['content-length'] ?? NaN);
          if (!res.complete || (method !== 'HEAD' && Number.isFinite(expected) && data.length < expected)) {
            resolve(FAILED);
            return;
          }
          const pairs = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
          resolve({ status: res.statusCode ?? 0, headers: pairs, body: new Uint8Array(data.buffer, data.byteOffset, data.length) });
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(FAILED));
      req.end(payload);
    });
}
