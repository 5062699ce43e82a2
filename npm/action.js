// The GitHub Action (action.yml at the repository's root runs the bundle of this file): reads
// the step's inputs from `INPUT_<NAME>`, hands them to the core, which checks every one and
// answers with the CLI command lines they stand for, runs those with the CLI's own code
// (commands.js), and writes the step's outputs (`GITHUB_OUTPUT`), its job summary
// (`GITHUB_STEP_SUMMARY`, Markdown rendered by the core) and annotations. Everything it
// decides is the core's; this file only moves bytes between the runner's files and the core.

import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import * as wasm from './wasm/regprune.js';
import { renderAnnotations, renderMarkdown, toRegpruneError } from './index.js';
import { main } from './commands.js';

/** A workflow command (`::name title=…::message`), written and escaped by the core. */
const command = (name, message, title) => process.stdout.write(`${wasm.workflowCommand(name, title, String(message))}\n`);

/** Appends `name<<DELIM … DELIM` (a fresh delimiter: values are never trusted) to `file`. */
function appendOutput(file, name, value) {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
}

/** The inputs the core knows, as the runner sets them (spaces to `_`, upper case; hyphens stay). */
function readInputs() {
  const inputs = {};
  for (const name of wasm.actionInputs()) {
    const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
    if (value !== undefined) inputs[name] = value;
  }
  return inputs;
}

/** Runs one CLI command line in this process; resolves to `{exit, results, stderr}`. */
async function runCli(argv) {
  const results = {};
  let stderr = '';
  // The log shows the preview and the report; registry data in it must not be read as
  // workflow commands, so command parsing is paused around it.
  const token = randomUUID();
  process.stdout.write(`::group::regprune ${argv[0]}\n::stop-commands::${token}\n`);
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    stderr += String(chunk);
    return write(chunk, ...rest);
  };
  let exit;
  try {
    exit = await main(argv, { onResult: (kind, text) => { results[kind] = text; } });
  } finally {
    process.stderr.write = write;
    process.stdout.write(`::${token}::\n::endgroup::\n`);
  }
  return { exit, results, stderr: stderr.trim() };
}

async function action() {
  const inputs = readInputs();
  // Mask before anything is printed: a password given as a plain input is not masked by the runner.
  for (const secret of [inputs.password, inputs['github-token']]) {
    if (secret?.trim()) command('add-mask', secret.trim());
  }
  if (inputs['github-token']?.trim()) process.env.GITHUB_TOKEN = inputs['github-token'].trim();
  let run;
  try {
    run = wasm.actionRun(JSON.stringify(inputs));
  } catch (e) {
    const err = toRegpruneError(e);
    command('error', err.message, 'regprune input');
    return 1;
  }
  let planText;
  let reportText;
  let failure;
  if (run.plan) {
    const planned = await runCli(run.plan);
    planText = planned.results.plan;
    if (planned.exit !== 0) failure = planned.stderr || `regprune plan ended with exit code ${planned.exit}`;
  }
  if (run.execute && failure === undefined) {
    if (planText === undefined) {
      try {
        planText = readFileSync(run.planFile, 'utf8').trim();
      } catch (e) {
        command('error', `${run.planFile}: ${e.code ?? e.message} (download the plan job's artifact first)`, 'regprune plan file');
        return 1;
      }
    }
    const executed = await runCli(run.execute);
    reportText = executed.results.execute;
    if (executed.exit !== 0) failure = executed.stderr || `regprune execute ended with exit code ${executed.exit}`;
  }
  if (planText !== undefined) {
    try {
      const outputs = wasm.actionOutputs(planText, reportText, run.planFile);
      if (process.env.GITHUB_OUTPUT) for (const [name, value] of outputs) appendOutput(process.env.GITHUB_OUTPUT, name, value);
      else for (const [name, value] of outputs) console.log(`${name}: ${value}`);
      if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${renderMarkdown(planText, reportText, { limit: run.summaryLimit })}\n`);
      process.stdout.write(renderAnnotations(planText, reportText));
    } catch (e) {
      // A plan file the CLI refused has said why already; anything else fails the step too.
      failure ??= `no outputs or summary: ${toRegpruneError(e).message}`;
    }
  }
  if (failure !== undefined) {
    command('error', failure.replace(/^error: /, ''), 'regprune');
    return 1;
  }
  return 0;
}

action().then(
  (code) => {
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (e) => {
    // Written here, not by the core: the core itself may be what failed to load.
    process.stdout.write(`::error title=regprune::${String(e?.stack ?? e).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}\n`);
    process.exit(1);
  },
);
