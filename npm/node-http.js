// The Node transport's HTTP/1.1 client: requests written to sockets (node:net, node:tls) kept
// alive per origin, one request per connection at a time, and responses framed here as RFC 9112
// says (status line and fields, then a body by Content-Length, chunked, or until close).
// node:http(s) (and undici) spend about twice the CPU per request on their general machinery
// (bench/FINDINGS.md); when the client shares the machine with the registry, that CPU is taken
// from the registry. It answers like the adapter's fetch path: status 0 for a failure to
// connect, a reset, a timeout, or a response cut short or malformed (the core retries); a
// request it cannot write (a line break in a header value) is refused.
import net from 'node:net';
import tls from 'node:tls';
import { InvalidOperationError } from './index.js';

const FAILED = Object.freeze({ status: 0, headers: [], body: new Uint8Array() });
/** No byte within this long is a failure (the core retries); idle connections close then. */
const TIMEOUT_MS = 60_000;
/**
 * A whole request may take at most this long, however its bytes trickle in (a server sending
 * a byte, or a `100 Continue`, every few seconds never trips the idle timeout).
 */
const DEADLINE_MS = 300_000;
/** Interim (1xx) answers skipped before the one that counts; more is a failure. */
const MAX_INTERIM = 8;
/** A response's status line and fields may not take more bytes than this. */
const MAX_HEAD = 64 * 1024;
/** A response body may not be longer than this (as in the Python adapter). */
export const MAX_BODY = 64 << 20;
/** Idle connections kept per origin (the adapters' most requests in flight). */
const MAX_IDLE = 32;
/** Methods a reused connection may resend once when it closed before answering (RFC 9112 §9.3.1). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Fields the client writes itself. */
const OWN_FIELDS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?:[ \t].*)?$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/;

// Where a response's parser is.
const HEAD = 0;
const LENGTH = 1;
const CHUNK = 2;
const CHUNK_DATA = 3;
const CHUNK_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;

/**
 * A `(method, url, headers, body) => Promise<{status, headers, body}>` for one Transport.
 * `headers` is an object of field names to values; `body` a string or bytes. Response fields
 * come as `[lower-cased name, value]` pairs in order, the body as exact bytes. Options (for
 * tests): `timeoutMs` (idle: no byte for this long), `deadlineMs` (the whole request), `maxBody`,
 * `tls` (extra `tls.connect` options, such as `ca`). A body
 * longer than `maxBody` rejects with `InvalidOperationError` naming the path, as the Python
 * adapter refuses it (nothing more is read). `close()` on the
 * returned function closes the idle connections (they never keep the process alive).
 */
export function nodeRequester({ timeoutMs = TIMEOUT_MS, deadlineMs = DEADLINE_MS, maxBody = MAX_BODY, tls: tlsOptions = {} } = {}) {
  const idle = new Map();
  const open = (u) => {
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const secure = u.protocol === 'https:';
    const port = Number(u.port) || (secure ? 443 : 80);
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], ...tlsOptions })
      : net.connect({ host, port });
    return new Connection(socket, timeoutMs, deadlineMs, maxBody);
  };
  const send = (method, url, headers, body) =>
    new Promise((resolve) => {
      const u = new URL(url);
      const key = `${u.protocol}//${u.host}`;
      const payload = body === undefined ? undefined : Buffer.from(body);
      const length = payload?.length ?? (method === 'POST' || method === 'PUT' || method === 'PATCH' ? 0 : undefined);
      const head = requestHead(method, u, headers, length);
      const release = (conn) => {
        const free = idle.get(key) ?? [];
        if (free.length >= MAX_IDLE) {
          conn.destroy();
          return;
        }
        conn.rest();
        free.push(conn);
        idle.set(key, free);
      };
      const attempt = (conn, reused) =>
        conn.exchange(method, head, payload).then((outcome) => {
          if (outcome.tooLarge) {
            // A body this long is no registry's answer.
            const path = `${u.pathname}${u.search}`;
            throw new InvalidOperationError(`${path}: the registry sent more than ${maxBody} bytes`, { code: 'invalid_operation', path });
          }
          if (outcome.stale && reused && IDEMPOTENT.has(method)) return attempt(open(u), false);
          if (outcome.reusable) release(conn);
          return outcome.response;
        });
      const free = idle.get(key);
      let conn;
      while (free?.length && !conn) {
        const c = free.pop();
        if (c.alive()) conn = c;
      }
      resolve(attempt(conn ?? open(u), conn !== undefined));
    });
  send.close = () => {
    for (const free of idle.values()) for (const conn of free.splice(0)) conn.destroy();
  };
  return send;
}

/** Thrown by the parser when the body outgrows the limit. */
class OverLimit extends Error {}

/** The request line and fields; refuses what would not be one well-formed request. */
function requestHead(method, u, headers, length) {
  if (!TOKEN.test(method)) throw new TypeError(`HTTP method ${JSON.stringify(method)} is not a token`);
  let text = `${method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`;
  for (const name of Object.keys(headers)) {
    if (!TOKEN.test(name)) throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
    if (OWN_FIELDS.has(name.toLowerCase())) throw new TypeError(`header ${name} is written by the HTTP client`);
    const value = String(headers[name]);
    // The value is not quoted: it may be a credential.
    if (/[\r\n\0]/.test(value)) throw new TypeError(`header ${name} has a line break or NUL in its value`);
    text += `${name}: ${value}\r\n`;
  }
  if (length !== undefined) text += `Content-Length: ${length}\r\n`;
  return `${text}\r\n`;
}

/** One socket and the response it is reading, if any. */
class Connection {
  #socket;
  #buf = Buffer.alloc(0);
  #done;
  #method;
  #received = false;
  #state = HEAD;
  #response;
  #chunks = [];
  #remaining = 0;
  #reusable = false;
  #size = 0;
  #maxBody;
  #deadlineMs;
  #timer;
  #interim = 0;

  constructor(socket, timeoutMs, deadlineMs, maxBody) {
    this.#socket = socket;
    this.#maxBody = maxBody;
    this.#deadlineMs = deadlineMs;
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk) => this.#data(chunk));
    socket.on('end', () => {
      if (this.#done && this.#state === UNTIL_CLOSE) this.#finish(false);
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#settle({ response: FAILED, stale: !this.#received }));
  }

  alive() {
    return !this.#socket.destroyed && !this.#socket.readableEnded;
  }

  destroy() {
    this.#socket.destroy();
  }

  /** Idle: nothing keeps the process alive for it. */
  rest() {
    this.#socket.unref();
  }

  /** Sends one request; resolves `{response, reusable, stale}` (stale: closed before any answer). */
  exchange(method, head, payload) {
    this.#socket.ref();
    this.#method = method;
    this.#received = false;
    this.#state = HEAD;
    this.#chunks = [];
    this.#size = 0;
    this.#interim = 0;
    return new Promise((resolve) => {
      this.#done = resolve;
      // However slowly the answer trickles in, it ends by the deadline.
      this.#timer = setTimeout(() => this.#fail(), this.#deadlineMs);
      this.#socket.cork();
      this.#socket.write(head, 'latin1');
      if (payload?.length) this.#socket.write(payload);
      this.#socket.uncork();
    });
  }

  #settle(outcome) {
    clearTimeout(this.#timer);
    const done = this.#done;
    this.#done = undefined;
    done?.(outcome);
  }

  #fail() {
    this.#settle({ response: FAILED, stale: false });
    this.#socket.destroy();
  }

  #data(chunk) {
    // Bytes nobody asked for: the connection is out of step.
    if (!this.#done) return this.#socket.destroy();
    this.#received = true;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    try {
      this.#parse();
    } catch (e) {
      if (e instanceof OverLimit) {
        this.#settle({ tooLarge: true });
        this.#socket.destroy();
      } else this.#fail();
    }
  }

  #take(n) {
    const part = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return part;
  }

  #line() {
    const end = this.#buf.indexOf('\r\n');
    if (end < 0) {
      if (this.#buf.length > MAX_HEAD) throw new Error('line too long');
      return undefined;
    }
    const line = this.#buf.toString('latin1', 0, end);
    this.#buf = this.#buf.subarray(end + 2);
    return line;
  }

  #parse() {
    while (this.#done) {
      switch (this.#state) {
        case HEAD: {
          const end = this.#buf.indexOf('\r\n\r\n');
          if (end > MAX_HEAD || (end < 0 && this.#buf.length > MAX_HEAD)) throw new Error('head too large');
          if (end < 0) return;
          const text = this.#take(end + 4).toString('latin1', 0, end);
          this.#head(text);
          break;
        }
        case LENGTH: {
          if (this.#remaining > 0) {
            if (this.#buf.length === 0) return;
            const part = this.#take(Math.min(this.#remaining, this.#buf.length));
            this.#body(part);
            this.#remaining -= part.length;
          }
          if (this.#remaining === 0) this.#finish(this.#reusable);
          break;
        }
        case CHUNK: {
          const line = this.#line();
          if (line === undefined) return;
          const m = CHUNK_SIZE.exec(line);
          if (!m) throw new Error('bad chunk size');
          this.#remaining = parseInt(m[1], 16);
          if (this.#size + this.#remaining > this.#maxBody) throw new OverLimit();
          this.#state = this.#remaining === 0 ? TRAILERS : CHUNK_DATA;
          break;
        }
        case CHUNK_DATA: {
          if (this.#buf.length === 0) return;
          const part = this.#take(Math.min(this.#remaining, this.#buf.length));
          this.#body(part);
          this.#remaining -= part.length;
          if (this.#remaining === 0) this.#state = CHUNK_END;
          break;
        }
        case CHUNK_END: {
          const line = this.#line();
          if (line === undefined) return;
          if (line !== '') throw new Error('chunk longer than its size');
          this.#state = CHUNK;
          break;
        }
        case TRAILERS: {
          const line = this.#line();
          if (line === undefined) return;
          if (line === '') this.#finish(this.#reusable);
          break;
        }
        case UNTIL_CLOSE: {
          if (this.#buf.length) this.#body(this.#take(this.#buf.length));
          return;
        }
        default:
          throw new Error('unreachable');
      }
    }
  }

  #body(part) {
    this.#size += part.length;
    if (this.#size > this.#maxBody) throw new OverLimit();
    this.#chunks.push(part);
  }

  /** Reads a status line and fields, and decides how the body is framed (RFC 9112 §6.3). */
  #head(text) {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) throw new Error('not an HTTP/1 status line');
    const code = Number(status[2]);
    // Interim answers (100 Continue, 103 Early Hints) come before the one that counts.
    if (code >= 100 && code < 200) {
      if (code === 101) throw new Error('protocol switch');
      if (++this.#interim > MAX_INTERIM) throw new Error('endless interim answers');
      return;
    }
    const headers = [];
    let lengths;
    let coding;
    let close = status[1] === '0';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) throw new Error('malformed field line');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.push([name, value]);
      if (name === 'content-length') (lengths ??= []).push(...value.split(','));
      else if (name === 'transfer-encoding') coding = value;
      else if (name === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) close = true;
    }
    this.#response = { status: code, headers };
    this.#reusable = !close;
    if (this.#method === 'HEAD' || code === 204 || code === 304) {
      this.#remaining = 0;
      this.#state = LENGTH;
    } else if (coding !== undefined) {
      // Both framings: the length is ignored and the connection closed after (RFC 9112 §6.1).
      if (lengths) this.#reusable = false;
      const last = coding.split(',').pop().trim().toLowerCase();
      this.#state = last === 'chunked' ? CHUNK : UNTIL_CLOSE;
    } else if (lengths) {
      const values = new Set(lengths.map((v) => v.trim()));
      const [only] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(only)) throw new Error('bad Content-Length');
      this.#remaining = Number(only);
      if (this.#remaining > this.#maxBody) throw new OverLimit();
      this.#state = LENGTH;
    } else {
      this.#state = UNTIL_CLOSE;
    }
    if (this.#state === UNTIL_CLOSE) this.#reusable = false;
  }

  #finish(reusable) {
    const chunks = this.#chunks;
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const response = { ...this.#response, body: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    // Bytes beyond the response: the connection is out of step.
    const keep = reusable && this.#buf.length === 0;
    this.#settle({ response, reusable: keep, stale: false });
    if (!keep) this.#socket.destroy();
  }
}
