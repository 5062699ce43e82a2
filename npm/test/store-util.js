// Reading and damaging a manifest store in tests, with a reader of the pack format written here
// from its description (README, core/src/store.rs), not with the code under test.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HEADER = 'regprune-pack 1\n';

/** `[digest, offset, length]` of every record of a whole pack. */
export function records(pack) {
  const data = readFileSync(pack);
  if (data.subarray(0, HEADER.length).toString('latin1') !== HEADER) throw new Error(`${pack}: no header`);
  const out = [];
  let at = HEADER.length;
  while (at < data.length) {
    const end = data.indexOf(10, at);
    const [digest, length] = data.subarray(at, end).toString('latin1').split(' ');
    const start = end + 1;
    out.push([digest, start, Number(length)]);
    at = start + Number(length);
    if (data[at] !== 10) throw new Error(`${pack}: the record of ${digest} does not end with a newline`);
    at += 1;
  }
  return out;
}

export function packs(dir) {
  return readdirSync(join(dir, 'packs')).filter((n) => n.endsWith('.pack')).sort().map((n) => join(dir, 'packs', n));
}

/** Every manifest a store's packs hold. */
export function stored(dir) {
  const out = new Map();
  for (const pack of packs(dir)) {
    const data = readFileSync(pack);
    for (const [digest, offset, length] of records(pack)) if (!out.has(digest)) out.set(digest, data.subarray(offset, offset + length));
  }
  return out;
}

/** Changes one byte of the saved bytes of `digest` (the length stays, so the pack still reads
 * whole); returns what puts it back. */
export function damage(dir, digest) {
  for (const pack of packs(dir)) {
    for (const [d, offset, length] of records(pack)) {
      if (d !== digest || length === 0) continue;
      const before = readFileSync(pack);
      const data = Buffer.from(before);
      data[offset] = data[offset] === 32 ? 9 : 32;
      writeFileSync(pack, data);
      return () => writeFileSync(pack, before);
    }
  }
  throw new Error(`${digest} is not in the store`);
}
