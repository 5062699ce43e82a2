// Reading a distribution registry's storage directory (the filesystem driver) into a snapshot,
// and the manifests directory of saved manifest bytes: file IO only (Node); the core builds
// the snapshot.

import { InvalidOperationError, importSnapshot, storageWantedConfigs } from './index.js';

/**
 * Where a manifest lives in a manifests directory's `blobs` (`path.join(directory, 'blobs')`):
 * `<algorithm>/<hex>`, the blob layout of an OCI image layout (digests are validated by the
 * core: no `/`). Joined as text: path.join normalizes every part, a fifth of reading 2,000
 * saved manifests.
 */
export function manifestPath(path, blobs, digest) {
  const [algorithm, encoded] = digest.split(':');
  return `${blobs}${path.sep}${algorithm}${path.sep}${encoded}`;
}

/** Saves bytes under their digest. Written in place, not renamed into place (a rename into
 * a directory of tens of thousands of files cost ~0.4 ms of CPU each, more than the write): a
 * file cut short by a crash does not hash to its name, so the core refuses it and the manifest
 * is fetched and saved again. The folder is made when the first write misses it. */
export function saveManifest(fs, path, blobs, digest, bytes) {
  const file = manifestPath(path, blobs, digest);
  try {
    fs.writeFileSync(file, bytes);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
  }
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
  const savedBlobs = saveManifests === undefined ? undefined : path.join(saveManifests, 'blobs');
  for (const prefix of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
    for (const hex of fs.readdirSync(path.join(blobs, prefix))) {
      const data = path.join(blobs, prefix, hex, 'data');
      if (!fs.existsSync(data)) continue;
      const digest = `sha256:${hex}`;
      blobSizes[digest] = fs.statSync(data).size;
      if (!wanted.has(digest)) continue;
      const raw = fs.readFileSync(data);
      manifests[digest] = raw.toString('utf8');
      if (savedBlobs !== undefined) saveManifest(fs, path, savedBlobs, digest, raw);
    }
  }
  const listing = { repositories, blobSizes, manifests, ...(registryName ? { registry: registryName } : {}) };
  // The image configs the core names: a manifest's createdTime is when it was built.
  listing.configs = {};
  for (const digest of storageWantedConfigs(listing)) {
    const hex = digest.slice('sha256:'.length);
    listing.configs[digest] = fs.readFileSync(path.join(blobs, hex.slice(0, 2), hex, 'data')).toString('utf8');
  }
  return importSnapshot({ format: 'distributionStorage', listing });
}
