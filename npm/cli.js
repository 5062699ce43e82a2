#!/usr/bin/env node
// The `regprune` program: runs the command line (commands.js) and exits with its code.
import { main } from './commands.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Idle keep-alive connections and timers must not hold the process open.
  setImmediate(() => process.exit(code));
});
