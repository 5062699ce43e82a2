// A real CNCF distribution registry (Debian's docker-registry) on 127.0.0.1, and a client of
// the plain API that pushes the end-to-end fixture and reads the state back.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const ACCEPT = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

export const sha = (data) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

export class RegistryServer {
  static async create() {
    const s = new RegistryServer();
    s.root = mkdtempSync(join(tmpdir(), 'regprune-registry-'));
    s.storage = join(s.root, 'storage');
    s.port = await freePort();
    s.config = join(s.root, 'config.yml');
    writeFileSync(s.config, `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${s.storage}}\n  delete: {enabled: true}\nhttp:\n  addr: 127.0.0.1:${s.port}\n`);
    await s.start();
    return s;
  }
  get url() { return `http://127.0.0.1:${this.port}`; }
  async start() {
    this.proc = spawn('docker-registry', ['serve', this.config], { stdio: 'ignore' });
    for (let i = 0; i < 400; i++) {
      try { if ((await fetch(`${this.url}/v2/`)).status === 200) return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('docker-registry did not start');
  }
  async stop() {
    if (!this.proc) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
    this.proc = undefined;
  }
  blobFiles() {
    const base = join(this.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256');
    const out = new Map();
    if (!existsSync(base)) return out;
    for (const p of readdirSync(base)) for (const h of readdirSync(join(base, p))) {
      const data = join(base, p, h, 'data');
      if (existsSync(data)) out.set(h, statSync(data).size);
    }
    return out;
  }
  /** Garbage-collects with the registry stopped; returns the bytes of the blob files removed. */
  async garbageCollect() {
    await this.stop();
    const before = this.blobFiles();
    execFileSync('docker-registry', ['garbage-collect', this.config], { stdio: 'ignore' });
    const after = this.blobFiles();
    await this.start();
    let freed = 0;
    for (const [h, size] of before) if (!after.has(h)) freed += size;
    return freed;
  }
  async close() {
    await this.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class Client {
  constructor(url) { this.url = url; }
  async blob(repo, data) {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const digest = sha(bytes);
    const start = await fetch(`${this.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(start.headers.get('location'), this.url);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
    return { digest, size: bytes.length };
  }
  async manifest(repo, ref, doc) {
    const body = JSON.stringify(doc);
    const r = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': doc.mediaType } });
    if (r.status !== 201) throw new Error(`manifest put: ${r.status} ${await r.text()}`);
    return sha(body);
  }
  async image(repo, tags, layers, created) {
    const config = await this.blob(repo, JSON.stringify({ created, architecture: 'amd64', os: 'linux' }));
    const ls = [];
    for (const l of layers) ls.push(await this.blob(repo, l));
    const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: ls.map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...b })) };
    const digest = sha(JSON.stringify(doc));
    for (const t of tags.length ? tags : [digest]) await this.manifest(repo, t, doc);
    return digest;
  }
  async tags(repo) {
    const r = await fetch(`${this.url}/v2/${repo}/tags/list`);
    const names = r.status === 200 ? ((await r.json()).tags ?? []) : [];
    const out = {};
    for (const t of names) {
      const h = await fetch(`${this.url}/v2/${repo}/manifests/${t}`, { method: 'HEAD', headers: { Accept: ACCEPT } });
      if (h.status === 200) out[t] = h.headers.get('docker-content-digest');
    }
    return out;
  }
  async exists(repo, digest) {
    return (await fetch(`${this.url}/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { Accept: ACCEPT } })).status === 200;
  }
}

/** Shared layers across repositories, several tags on one manifest, a dangling manifest left by
 * a re-pushed tag, an index with platform children, and a signature with a subject. */
export async function pushFixture(c) {
  const base = 'base-layer'.repeat(2000);
  const d = {};
  d.appV1 = await c.image('app', ['v1', 'stable'], [base, 'app-v1'.repeat(500)], '2025-01-01T00:00:00Z');
  d.appOld = await c.image('app', ['latest'], [base, 'app-v1.5'.repeat(500)], '2025-03-01T00:00:00Z');
  d.appV2 = await c.image('app', ['v2', 'latest'], [base, 'app-v2'.repeat(500)], '2026-06-01T00:00:00Z');
  d.webV1 = await c.image('web', ['v1'], [base, 'web-v1'.repeat(700)], '2025-02-01T00:00:00Z');
  const children = [];
  for (const arch of ['amd64', 'arm64']) {
    const digest = await c.image('multi', [], [base, `multi-${arch}`.repeat(300)], '2025-04-01T00:00:00Z');
    const size = (await (await fetch(`${c.url}/v2/multi/manifests/${digest}`, { headers: { Accept: ACCEPT } })).arrayBuffer()).byteLength;
    children.push({ mediaType: OCI_MANIFEST, digest, size, platform: { architecture: arch, os: 'linux' } });
  }
  d.multiIndex = await c.manifest('multi', '1.0', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children });
  const empty = await c.blob('app', '{}');
  const payload = await c.blob('app', 'signature-payload');
  const size = (await (await fetch(`${c.url}/v2/app/manifests/${d.appV1}`, { headers: { Accept: ACCEPT } })).arrayBuffer()).byteLength;
  d.appV1Sig = await c.manifest('app', `sha256-${d.appV1.slice(7)}`, { schemaVersion: 2, mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/octet-stream', ...payload }],
    subject: { mediaType: OCI_MANIFEST, digest: d.appV1, size } });
  return d;
}
