#!/usr/bin/env node
// The `regprune` command for Node: the same commands, flags and exit codes as the Python one.
// Exit codes: 0 success; 1 some actions failed; 2 refused (bad input, an edited plan,
// confirmation declined); 3 the registry could not be read.

import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { plan as makePlan, renderText, verifyPlan, checkEvidence, escapeControls, RegpruneError, VERSION } from './index.js';
import { Transport, crawl, execute, undo, readStorage, DEFAULT_CONCURRENCY } from './registry.js';

const OK = 0, PARTIAL = 1, REFUSED = 2, UNREACHABLE = 3;
const INTERRUPTED = 130; // 128 + SIGINT, as shells report it

const common = {
  registry: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  insecure: { type: 'boolean', default: false },
  concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
  timeout: { type: 'string', default: '60' },
  deadline: { type: 'string', default: '300' },
  output: { type: 'string', default: 'text' },
  flavour: { type: 'string', default: 'auto' },
  out: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h', default: false },
};

const USAGE = `usage: regprune <command> [options]

  snapshot --registry URL | --storage DIR [--repository R]... [-o FILE] [--save-manifests DIR]
  plan [--snapshot FILE | --registry URL [--save-manifests DIR]] [--now TIME] [--pin DIGEST]... [-o FILE] OPERATION
      OPERATION: delete-repo R | delete IMAGE | untag IMAGE | delete-older-than R BEFORE [--field F]
                 | delete-untagged [R] | retention DAYS ENABLED_AT
                 | purge --filter F... (--ago D | --before T) [--keep N] [--untagged]
                 | acr-purge '<acr purge command>' | policy FILE
  execute PLAN --registry URL [--yes] [--journal FILE] [--manifests DIR] [--snapshot FILE] [--retarget-registry]
  undo JOURNAL --registry URL [--run ID] [--dry-run] [--retarget-registry]

common: --username U --password P (or REGPRUNE_USERNAME/REGPRUNE_PASSWORD), --insecure, --flavour auto|oci|acr,
        --concurrency N (default ${DEFAULT_CONCURRENCY}, max 32), --output text|json,
        --timeout S (no byte for S seconds fails a request; 60), --deadline S (a request in all; 300)`;

async function transport(v) {
  if (!v.registry) throw new RegpruneError('--registry is required', { code: 'invalid_operation', path: 'registry' });
  return new Transport(v.registry, { username: v.username, password: v.password, insecure: v.insecure, timeout: Number(v.timeout), deadline: Number(v.deadline) });
}

/** A request counter on a terminal (a crawl's total is unknown until it ends). */
function progress(label) {
  if (!process.stderr.isTTY) return undefined;
  return (n) => {
    if (n % 10 === 0) process.stderr.write(`\r${label}: ${n} requests`);
  };
}

/** A progress bar on a terminal, for work whose total is known. */
function bar(label) {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = Math.floor((width * done) / Math.max(total, 1));
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

function operation(args, v) {
  const [op, ...rest] = args;
  switch (op) {
    case 'delete-repo': return { op: 'deleteRepository', repository: rest[0] };
    case 'delete': return { op: 'deleteImage', image: rest[0] };
    case 'untag': return { op: 'untag', image: rest[0] };
    case 'delete-older-than': return { op: 'deleteOlderThan', repository: rest[0], before: rest[1], field: v.field ?? 'lastUpdateTime' };
    case 'delete-untagged': return rest[0] ? { op: 'deleteUntagged', repository: rest[0] } : { op: 'deleteUntagged' };
    case 'retention': return { op: 'retention', days: Number(rest[0]), enabledAt: rest[1] };
    case 'purge': return { op: 'purge', filter: v.filter ?? [], keep: Number(v.keep ?? 0), untagged: v.untagged ?? false, ...(v.ago ? { ago: v.ago } : { before: v.before }) };
    case 'acr-purge': return { op: 'acrPurge', command: rest[0] };
    case 'policy': return { op: 'policy', policy: JSON.parse(readFileSync(rest[0], 'utf8')) };
    default: throw new RegpruneError(`unknown operation ${JSON.stringify(op)}`, { code: 'invalid_operation', path: 'operation' });
  }
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? OK : REFUSED;
  }
  if (command === '--version') {
    console.log(`regprune ${VERSION}`);
    return OK;
  }
  const extra = {
    snapshot: { storage: { type: 'string' }, repository: { type: 'string', multiple: true }, 'save-manifests': { type: 'string' } },
    plan: {
      snapshot: { type: 'string' }, 'save-manifests': { type: 'string' }, now: { type: 'string' }, pin: { type: 'string', multiple: true },
      field: { type: 'string' }, filter: { type: 'string', multiple: true }, ago: { type: 'string' },
      before: { type: 'string' }, keep: { type: 'string' }, untagged: { type: 'boolean' },
    },
    execute: { yes: { type: 'boolean', default: false }, journal: { type: 'string', default: 'regprune-journal.jsonl' }, manifests: { type: 'string' }, 'retarget-registry': { type: 'boolean', default: false }, snapshot: { type: 'string' } },
    undo: { run: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, 'retarget-registry': { type: 'boolean', default: false } },
  }[command];
  if (!extra) {
    console.error(`regprune: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return REFUSED;
  }
  const { values: v, positionals } = parseArgs({ args: rest, options: { ...common, ...extra }, allowPositionals: true });
  const concurrency = Number(v.concurrency);
  const json = v.output === 'json';
  if (command === 'snapshot') {
    const snap = v.storage ? await readStorage(v.storage, v.registry, { saveManifests: v['save-manifests'] }) : await crawl(await transport(v), { repositories: v.repository ?? [], flavour: v.flavour, concurrency, onProgress: progress('crawl'), saveManifests: v['save-manifests'] });
    const text = JSON.stringify(snap, null, json ? undefined : 2);
    if (v.out) {
      writeFileSync(v.out, `${text}\n`);
      const n = snap.repositories.reduce((a, r) => a + (r.manifests?.length ?? 0), 0);
      console.error(`${snap.repositories.length} repositories, ${n} manifests -> ${v.out}`);
    } else console.log(text);
    return OK;
  }
  if (command === 'plan') {
    const snapshot = v.snapshot ? readFileSync(v.snapshot) : await crawl(await transport(v), { flavour: v.flavour, concurrency, onProgress: progress('crawl'), saveManifests: v['save-manifests'] });
    const p = makePlan(snapshot, operation(positionals, v), { now: v.now, pinned: v.pin ?? [] });
    if (v.out) writeFileSync(v.out, `${JSON.stringify(p)}\n`);
    console.log(json ? JSON.stringify(p) : renderText(p));
    return OK;
  }
  if (command === 'execute') {
    // The plan goes to the core as the text that was reviewed (exact, and read far faster).
    const planText = readFileSync(positionals[0], 'utf8');
    if (!verifyPlan(planText)) {
      console.error("refused: the plan's digest does not match its content (edited after review?)");
      return REFUSED;
    }
    // The plan must be exactly what its operation gives against its evidence.
    if (v.snapshot) checkEvidence(planText, readFileSync(v.snapshot));
    if (!json) console.log(renderText(planText));
    if (!v.yes) {
      if (!process.stdin.isTTY) {
        console.error('refused: not confirmed (pass --yes to run without a terminal)');
        return REFUSED;
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = (await rl.question('Are you sure you want to continue? (y/n): ')).trim().toLowerCase();
      rl.close();
      if (answer !== 'y' && answer !== 'yes') return REFUSED;
    }
    // Ctrl-C stops the run: nothing more is sent, what is in flight is answered, and the
    // report says what was done and what never started. A second Ctrl-C ends at once.
    const interrupt = new AbortController();
    const onSigint = () => {
      process.off('SIGINT', onSigint);
      process.once('SIGINT', () => process.exit(INTERRUPTED));
      interrupt.abort();
    };
    process.on('SIGINT', onSigint);
    const report = await execute(planText, await transport(v), { journalPath: v.journal, flavour: v.flavour, concurrency, onProgress: bar('execute'), manifests: v.manifests, retarget: v['retarget-registry'], signal: interrupt.signal });
    process.off('SIGINT', onSigint);
    if (json) console.log(JSON.stringify(report));
    else {
      if (report.retargeted) console.log(`retargeted: the plan was made for ${escapeControls(report.retargeted)}`);
      if (report.interrupted) console.log('interrupted: nothing more was sent; what had not started is listed below');
      for (const o of report.outcomes) console.log(`${o.outcome.padEnd(12)} ${escapeControls(o.target)}  ${escapeControls(o.detail)}`);
      console.log(Object.entries(report.counts).sort().map(([k, n]) => `${k}=${n}`).join(' '));
    }
    return report.complete ? OK : PARTIAL;
  }
  const report = await undo(positionals[0], await transport(v), { run: v.run, dryRun: v['dry-run'], retarget: v['retarget-registry'], concurrency });
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(`run ${escapeControls(report.run ?? '(no run id)')} of plan ${report.plan ?? '(none)'}`);
    for (const s of report.skippedLines) console.log(`skipped      line ${s.line}: ${escapeControls(s.reason)}`);
    for (const r of report.results) console.log(`${r.outcome.padEnd(12)} ${r.repository}@${r.digest} ${r.tags.join(' ')}  ${escapeControls(r.detail)}`);
    console.log(Object.entries(report.counts).sort().map(([k, n]) => `${k}=${n}`).join(' '));
  }
  if (v['dry-run']) return OK;
  return report.complete ? OK : PARTIAL;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${escapeControls(e?.message ?? String(e))}`);
    process.exit(e instanceof RegpruneError || e instanceof TypeError ? REFUSED : UNREACHABLE);
  },
);
