// The manifest store (`--cache DIR`): packs written by crawls, read back, merged; the older
// one-file-per-manifest layout still read; the same store read by Python and Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import 'regprune';
import * as wasm from '../wasm/regprune.js';
import { ManifestStore } from '../storage.js';
import { packs, records, stored } from './store-util.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = () => fs.mkdtempSync(path.join(tmpdir(), 'regprune-store-'));
const manifest = (i) => {
  const bytes = Buffer.from(`{"schemaVersion":2,"n":${i}}`);
  return [`sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes];
};
const pack = (items) => Buffer.concat(items.map(([d, b]) => wasm.packRecord(d, b)));

test('what one writer appends another reads', () => {
  const d = dir();
  const items = Array.from({ length: 50 }, (_, i) => manifest(i));
  const store = new ManifestStore(fs, path, d);
  store.append(pack(items.slice(0, 20)));
  store.append(pack(items.slice(20)));
  store.close();
  const [p] = packs(d);
  assert.deepEqual(records(p).map(([digest]) => digest), items.map(([digest]) => digest));
  const reader = new ManifestStore(fs, path, d);
  for (const [digest, bytes] of items) assert.deepEqual(Buffer.from(reader.get(digest)), bytes);
  assert.equal(reader.get(manifest(99)[0]), undefined);
  assert.deepEqual(reader.damaged, []);
});

test('nothing to save makes no pack', () => {
  const d = dir();
  const store = new ManifestStore(fs, path, d);
  store.append(new Uint8Array(0));
  store.close();
  assert.equal(fs.existsSync(path.join(d, 'packs')), false);
});

test('a pack cut short gives its whole records and says where it stopped', () => {
  const d = dir();
  const items = Array.from({ length: 10 }, (_, i) => manifest(i));
  const store = new ManifestStore(fs, path, d);
  store.append(pack(items));
  store.close();
  const [p] = packs(d);
  const [, offset, length] = records(p)[6];
  fs.truncateSync(p, offset + length - 1);
  const reader = new ManifestStore(fs, path, d);
  assert.deepEqual(items.map(([digest]) => reader.get(digest)?.length), [...items.slice(0, 6).map(([, b]) => b.length), undefined, undefined, undefined, undefined]);
  assert.equal(reader.damaged.length, 1);
  assert.match(reader.damaged[0], /ends inside the record/);
});

test('the older layout of one file per manifest is still read', () => {
  const d = dir();
  const [digest, bytes] = manifest(1);
  fs.mkdirSync(path.join(d, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(d, 'blobs', 'sha256', digest.split(':')[1]), bytes);
  const reader = new ManifestStore(fs, path, d);
  assert.deepEqual(reader.get(digest), bytes);
});

test('many packs are merged into one holding each manifest once', () => {
  const d = dir();
  const items = Array.from({ length: 40 }, (_, i) => manifest(i));
  const n = wasm.packsBeforeMerge();
  for (let k = 0; k < n; k += 1) {
    const store = new ManifestStore(fs, path, d);
    store.append(pack([items[2 * k], items[2 * k + 1], items[0]]));
    store.close();
  }
  assert.equal(packs(d).length, n, 'not merged yet');
  const store = new ManifestStore(fs, path, d);
  store.append(pack([items[39]]));
  store.close();
  assert.equal(packs(d).length, 1);
  const wanted = new Map([...items.slice(0, 2 * n), items[39]]);
  const got = stored(d);
  assert.deepEqual([...got.keys()].sort(), [...wanted.keys()].sort());
  for (const [digest, bytes] of got) assert.deepEqual(Buffer.from(bytes), wanted.get(digest));
  assert.equal(records(packs(d)[0]).length, wanted.size, 'every manifest once');
});

test('Python and Node read each other\'s stores', () => {
  const py = `${root}.venv/bin/python`;
  assert.ok(fs.existsSync(py), 'make test builds the Python package before this test');
  const d = dir();
  const items = Array.from({ length: 5 }, (_, i) => manifest(i));
  const script = `
import json, sys
from regprune import _native
from regprune.storage import ManifestStore
d, items = sys.argv[1], json.loads(sys.argv[2])
with ManifestStore(d) as s:
    s.append(_native.pack_records([(k, v.encode()) for k, v in items[3:]]))
print(json.dumps({k: (ManifestStore(d).get(k) or b"").decode() for k, _ in items}))`;
  const store = new ManifestStore(fs, path, d);
  store.append(pack(items.slice(0, 3)));
  store.close();
  const seen = JSON.parse(execFileSync(py, ['-c', script, d, JSON.stringify(items.map(([k, v]) => [k, v.toString()]))], { encoding: 'utf8' }));
  assert.deepEqual(seen, Object.fromEntries(items.map(([k, v]) => [k, v.toString()])), 'Python reads what Node wrote');
  const reader = new ManifestStore(fs, path, d);
  for (const [digest, bytes] of items) assert.deepEqual(Buffer.from(reader.get(digest)), bytes, 'Node reads what Python wrote');
});

test('a bad digest is refused by name', () => {
  assert.throws(() => wasm.packRecord('sha256:nothex', new Uint8Array(2)), /sha256:nothex/);
});
