// The `regprune` command for Node: a shell around the core's command line. The grammar,
// validation, help, rendering and exit codes are the core's (wasm `cli*`), shared with the
// Python CLI; this module reads and writes the files an invocation names, talks to the
// registry, asks for confirmation, and prints what the core rendered. `cli.js` runs it as a
// program; the GitHub Action (`action.js`) runs the same commands in its own process.

import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import * as wasm from './wasm/regprune.js';
import { InvalidJsonError, RegpruneError, plan as makePlan, toRegpruneError } from './index.js';
import { Transport, crawl, execute, undo, readStorage } from './registry.js';

const INTERRUPTED = 130; // 128 + SIGINT, as shells report it

class FileError extends Error {}

function read(path) {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FileError(`${path}: ${e.code ?? 'EIO'}`);
  }
}

function write(path, text) {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new FileError(`${path}: ${e.code ?? 'EIO'}`);
  }
}

function emit(rendered, o = {}) {
  if (rendered.file !== undefined && o.out) write(o.out, rendered.file);
  if (rendered.summary !== undefined && o.summaryMd) write(o.summaryMd, rendered.summary);
  process.stdout.write(rendered.stdout);
  process.stderr.write(rendered.stderr);
  return rendered.exit;
}

const core = (fn) => {
  try {
    return fn();
  } catch (e) {
    throw toRegpruneError(e);
  }
};
/** Hands each result's JSON text to `hooks.onResult(kind, text)` (the Action's outputs), then prints it. */
let hooks = {};
const render = (kind, document, o, plan) => {
  hooks.onResult?.(kind, document);
  return emit(core(() => wasm.cliRender(kind, document, JSON.stringify(o), plan)), o);
};

const transport = (o) => new Transport(o.registry, { username: o.username, password: o.password, insecure: o.insecure, timeout: o.timeout, deadline: o.deadline, github: Boolean(o.github), log: o.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined });

/** The core's status line on a terminal (a crawl: its listing, then the manifests fetched and
 * reused against the known total), redrawn when it changes, at most ten times a second. */
function status() {
  if (!process.stderr.isTTY) return undefined;
  let shown = '';
  let at = 0;
  let last = '';
  return (line = last, end = false) => {
    last = line;
    const now = Date.now();
    if (line && (end || (line !== shown && now - at >= 100))) {
      process.stderr.write(`\r${line}${' '.repeat(Math.max(0, shown.length - line.length))}${end ? '\n' : ''}`);
      shown = line;
      at = now;
    }
  };
}

/** A progress bar on a terminal, for work whose total is known. */
function bar(label) {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const filled = Math.floor((30 * done) / Math.max(total, 1));
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

async function crawlOf(o, repositories = [], decide = undefined) {
  const onStatus = status();
  const snap = await crawl(transport(o), { repositories, flavour: o.flavour, owner: o.owner, githubApi: o.githubApi, hubApi: o.hubApi, concurrency: o.concurrency, onStatus, saveManifests: o.saveManifests, manifests: o.manifests, decide });
  onStatus?.(undefined, true);
  return snap;
}

const commands = {
  async snapshot(inv, o) {
    const snap = o.storage ? await readStorage(o.storage, o.registry, { saveManifests: o.saveManifests }) : await crawlOf(o, o.repository);
    return render('snapshot', JSON.stringify(snap), o);
  },
  async plan(inv, o) {
    let operation = inv.operation;
    if (operation.policyFile !== undefined) {
      let policy;
      try {
        policy = JSON.parse(read(operation.policyFile).toString('utf8'));
      } catch (e) {
        if (e instanceof FileError) throw e;
        throw new InvalidJsonError(`${operation.policyFile}: ${e.message}`, { code: 'invalid_json', path: operation.policyFile });
      }
      operation = { op: 'policy', policy };
    }
    // One time for the crawl that reads for the plan and for the plan itself.
    const now = o.now ?? new Date().toISOString();
    const decide = o.decisionsOnly ? { operation, now, pinned: o.pin } : undefined;
    const evidence = o.snapshot ? read(o.snapshot) : await crawlOf(o, [], decide);
    const made = makePlan(evidence, operation, { now, pinned: o.pin });
    return render('plan', JSON.stringify(made), o);
  },
  async execute(inv, o) {
    const text = read(inv.file).toString('utf8').trim();
    core(() => wasm.cliCheckPlan(text, o.snapshot ? read(o.snapshot) : undefined, JSON.stringify(o)));
    const t = transport(o);
    if (o.output !== 'json') console.log(core(() => wasm.cliPreview(text, JSON.stringify(o))));
    if (!o.yes) {
      const [prompt, notConfirmed, declined] = wasm.cliConfirmation();
      if (!process.stdin.isTTY) {
        console.error(notConfirmed);
        return 2;
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(prompt);
      rl.close();
      if (!wasm.cliConfirmed(answer)) {
        console.error(declined);
        return 2;
      }
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
    const report = await execute(text, t, { journalPath: o.journal, flavour: o.flavour, githubApi: o.githubApi, hubApi: o.hubApi, concurrency: o.concurrency, onProgress: bar('execute'), manifests: o.manifests, retarget: o.retargetRegistry, signal: interrupt.signal });
    process.off('SIGINT', onSigint);
    return render('execute', JSON.stringify(report), o, text);
  },
  async undo(inv, o) {
    const journal = read(inv.file);
    const report = await undo(journal, transport(o), { run: o.run, dryRun: o.dryRun, retarget: o.retargetRegistry, concurrency: o.concurrency });
    return render('undo', JSON.stringify(report), o);
  },
};

/**
 * Runs one command line (without the program name) and resolves to its exit code. `with_`
 * may carry `onResult(kind, jsonText)`, called with each result before it is printed.
 */
export async function main(argv, with_ = {}) {
  hooks = with_;
  try {
    const inv = core(() => wasm.cliParse(argv));
    if (inv.command === 'help' || inv.command === 'version') {
      (inv.exit === 0 ? process.stdout : process.stderr).write(`${inv.text}\n`);
      return inv.exit;
    }
    return await commands[inv.command](inv, inv.options);
  } catch (e) {
    if (e instanceof RegpruneError) return emit(wasm.cliRenderError(e.code, e.message));
    if (e instanceof FileError) return emit(wasm.cliRenderError('file', e.message));
    throw e;
  }
}

