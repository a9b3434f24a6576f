/**
 * Setup file of the unit project (test/vitest.config.ts): each test file gets a home and a state directory of its own.
 *
 * Commands called in process with `env: {}` (the wizard tests, for instance) find their default inventory and
 * stand-in card through os.homedir(), which reads $HOME (Node's os.homedir: "the HOME environment variable if set"),
 * and children spawned with process.env inherit HOME and XDG_STATE_HOME. Without this, such a test opens the user's own
 * ~/.local/state/piv-enroll/inventory.sqlite, writes into it, and fails when that file has another schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const home = mkdtempSync(join(tmpdir(), 'piv-enroll-test-home-'));
process.env.HOME = home;
process.env.XDG_STATE_HOME = join(home, '.local', 'state');

afterAll(() => rmSync(home, { recursive: true, force: true }));
