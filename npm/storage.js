// Reading a distribution registry's storage directory (the filesystem driver) into a snapshot,
// and the manifests directory of saved manifest bytes: file IO only (Node); the core builds
// the snapshot.

import { InvalidOperationError, importSnapshot, storageWantedConfigs } from './index.js';
import * as wasm from './wasm/regprune.js';

/**
 * A manifest store (the CLI's `--cache DIR`): manifests and image configs saved under their
 * digests, so that a later crawl or execution need not fetch them again. A crawl appends what
 * it fetched to a pack of its own (`DIR/packs/<time>-<random>.pack`, the core's format: one
 * file per crawl, not one per manifest, whose creation cost more CPU than the request); a store
 * of more than `packsBeforeMerge()` packs is merged into one when a writer closes. Files of the
 * older layout (`DIR/blobs/<alg>/<hex>`) are still read. Nothing here is trusted: the core
 * checks every saved manifest against its digest before using it (Node only: `fs`, `path`).
 */
export class ManifestStore {
  constructor(fs, path, directory) {
    Object.assign(this, { fs, path, directory, index: undefined, fd: undefined, written: undefined, damaged: [] });
  }

  /** Reads every pack (and lists the older loose files) once, at the first lookup. */
  load() {
    if (this.index !== undefined) return this.index;
    const { fs, path } = this;
    const index = new Map();
    for (const pack of packs(fs, path, this.directory)) {
      if (pack === this.written) continue;
      let data;
      try {
        data = fs.readFileSync(pack);
      } catch (e) {
        if (e.code === 'ENOENT') continue; // merged and removed by another run meanwhile
        throw e;
      }
      const { entries, damaged } = wasm.indexPack(data);
      // A pack cut short (a crash while it was written): its whole records are used, the
      // rest is fetched again.
      if (damaged) this.damaged.push(`${path.basename(pack)}: ${damaged}`);
      for (const [digest, offset, length] of entries) {
        if (!index.has(digest)) index.set(digest, { data, offset, length });
      }
    }
    const blobs = path.join(this.directory, 'blobs');
    for (const algorithm of list(fs, blobs)) {
      for (const encoded of list(fs, `${blobs}${path.sep}${algorithm}`)) {
        const digest = `${algorithm}:${encoded}`;
        if (!index.has(digest)) index.set(digest, { file: `${blobs}${path.sep}${algorithm}${path.sep}${encoded}` });
      }
    }
    this.index = index;
    return index;
  }

  has(digest) {
    return this.load().has(digest);
  }

  /** The bytes saved under `digest` (unchecked: the core checks them), or undefined. */
  get(digest) {
    const found = this.load().get(digest);
    if (found === undefined) return undefined;
    if (found.data !== undefined) return found.data.subarray(found.offset, found.offset + found.length);
    try {
      return this.fs.readFileSync(found.file);
    } catch (e) {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Appends pack records (a crawl's `takePackRecords`, `packRecord`) to this writer's pack,
   * made at the first call. */
  append(records) {
    if (records.length === 0) return;
    const { fs, path } = this;
    if (this.fd === undefined) {
      const dir = path.join(this.directory, 'packs');
      fs.mkdirSync(dir, { recursive: true });
      this.written = path.join(dir, `${stamp()}.pack`);
      this.fd = fs.openSync(this.written, 'wx');
      fs.writeSync(this.fd, wasm.packHeader());
    }
    fs.writeSync(this.fd, records);
  }

  /** Ends this writer's pack, then merges the store's packs into one when there are more than
   * `packsBeforeMerge()`. */
  close() {
    if (this.fd === undefined) return;
    this.fs.closeSync(this.fd);
    this.fd = undefined;
    const all = packs(this.fs, this.path, this.directory);
    if (all.length > wasm.packsBeforeMerge()) mergePacks(this.fs, this.path, this.directory, all);
  }
}

/** Writes the records of `packs` (each digest once) into one new pack of `directory`, then
 * removes them. The new pack is written aside and renamed into place, so a reader sees either
 * the old packs or the new one whole; a pack another run adds meanwhile is not touched. */
export function mergePacks(fs, path, directory, packs) {
  const out = path.join(directory, 'packs', `${stamp()}.pack`);
  const part = out.replace(/\.pack$/, '.part');
  const seen = new Set();
  const fd = fs.openSync(part, 'w');
  try {
    fs.writeSync(fd, wasm.packHeader());
    for (const pack of packs) {
      let data;
      try {
        data = fs.readFileSync(pack);
      } catch (e) {
        if (e.code === 'ENOENT') continue;
        throw e;
      }
      for (const [digest, offset, length] of wasm.indexPack(data).entries) {
        if (seen.has(digest)) continue;
        seen.add(digest);
        fs.writeSync(fd, wasm.packRecord(digest, data.subarray(offset, offset + length)));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(part, out);
  for (const pack of packs) {
    try {
      fs.unlinkSync(pack);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  return out;
}

function packs(fs, path, directory) {
  const dir = path.join(directory, 'packs');
  return list(fs, dir).filter((n) => n.endsWith('.pack')).sort().map((n) => path.join(dir, n));
}

function list(fs, dir) {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [];
    throw e;
  }
}

/** A pack's name: the UTC time (packs sort by age) and 48 random bits. */
function stamp() {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const random = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${t}-${random}`;
}

/**
 * Reads a distribution registry's storage directory (filesystem driver) into a snapshot: every
 * revision, tagged or not, exact blob sizes, times from the link files (Node only).
 */
export async function readStorage(root, registryName, { saveManifests } = {}) {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const base = path.join(root, 'docker', 'registry', 'v2');
  const reposDir = path.join(base, 'repositories');
  if (!fs.existsSync(reposDir)) throw new InvalidOperationError(`storage: ${reposDir} is not a registry storage directory`, { code: 'invalid_operation', path: 'storage' });
  const time = (p) => fs.statSync(p).mtime.toISOString();
  const link = (p) => fs.readFileSync(p, 'ascii').trim();
  const repositories = [];
  const wanted = new Set();
  const walk = (dir) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.name === '_manifests' && e.isDirectory())) {
      const name = path.relative(reposDir, dir).split(path.sep).join('/');
      const manifests = path.join(dir, '_manifests');
      const revDir = path.join(manifests, 'revisions', 'sha256');
      const revisions = [];
      for (const hex of fs.existsSync(revDir) ? fs.readdirSync(revDir).sort() : []) {
        const p = path.join(revDir, hex, 'link');
        if (fs.existsSync(p)) {
          const digest = link(p);
          wanted.add(digest);
          revisions.push({ digest, time: time(p) });
        }
      }
      const tagDir = path.join(manifests, 'tags');
      const tags = [];
      for (const tag of fs.existsSync(tagDir) ? fs.readdirSync(tagDir).sort() : []) {
        const p = path.join(tagDir, tag, 'current', 'link');
        if (fs.existsSync(p)) tags.push({ name: tag, digest: link(p), time: time(p) });
      }
      repositories.push({ name, revisions, tags });
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) walk(path.join(dir, e.name));
  };
  walk(reposDir);
  const blobSizes = {};
  const manifests = {};
  const blobs = path.join(base, 'blobs', 'sha256');
  const saved = saveManifests === undefined ? undefined : new ManifestStore(fs, path, saveManifests);
  for (const prefix of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
    for (const hex of fs.readdirSync(path.join(blobs, prefix))) {
      const data = path.join(blobs, prefix, hex, 'data');
      if (!fs.existsSync(data)) continue;
      const digest = `sha256:${hex}`;
      blobSizes[digest] = fs.statSync(data).size;
      if (!wanted.has(digest)) continue;
      const raw = fs.readFileSync(data);
      manifests[digest] = raw.toString('utf8');
      saved?.append(wasm.packRecord(digest, raw));
    }
  }
  saved?.close();
  const listing = { repositories, blobSizes, manifests, ...(registryName ? { registry: registryName } : {}) };
  // The image configs the core names: a manifest's createdTime is when it was built.
  listing.configs = {};
  for (const digest of storageWantedConfigs(listing)) {
    const hex = digest.slice('sha256:'.length);
    listing.configs[digest] = fs.readFileSync(path.join(blobs, hex.slice(0, 2), hex, 'data')).toString('utf8');
  }
  return importSnapshot({ format: 'distributionStorage', listing });
}
