// `npm test`'s first step: the README's test command is the whole story. When the test bench is missing and this
// process may install it (root, or `sudo -n` works), it runs test/bench/testbench.sh and says so; when the native
// addons did not build before (no libpcsclite-dev at the first npm install), it runs npm install again once the bench
// brought their headers. Otherwise it only says what is missing: the real-stack tests' global set-up then skips them
// with a notice, or fails under CI.
import { execFileSync } from 'node:child_process';
import { benchProblems, mayInstall, missingAddons } from './bench-state.mjs';

const root = new URL('../..', import.meta.url).pathname;
const say = (message) => process.stderr.write(`test set-up: ${message}\n`);

function runStep(command, args) {
  execFileSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
}

const problems = benchProblems();
if (problems.length > 0) {
  if (mayInstall()) {
    say(`the test bench is not set up (${problems.join('; ')}): running test/bench/testbench.sh`);
    runStep('bash', ['test/bench/testbench.sh']);
  } else {
    say(`the test bench is not set up (${problems.join('; ')}) and this user may not install it (not root, no sudo -n): run \`sudo bash test/bench/testbench.sh\``);
  }
}
const addons = missingAddons(root);
if (addons.length > 0 && benchProblems().length === 0) {
  say(`native modules ${addons.join(', ')} are not built: running npm install, now that the bench's headers are there`);
  runStep('npm', ['install', '--no-audit', '--no-fund']);
  const still = missingAddons(root);
  if (still.length > 0) say(`still missing after npm install: ${still.join(', ')} (see npm's output above)`);
}
