/**
 * The doctor's SSH_ASKPASS program answers ssh's PKCS#11 PIN prompt and nothing else: not the host-key question
 * ("Are you sure you want to continue connecting"), not a passphrase, not a confirmation. And the 0700 directory
 * holding the PIN file is gone after the work, after an exception, and after SIGTERM, SIGINT or process.exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { askpassScript } from '../../src/operations/doctor/host-check.js';
import { withPrivateDirectory } from '../../src/operations/private-directory.js';

const dir = mkdtempSync(join(tmpdir(), 'pe-askpass-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PIN = 'dummy-pin-for-askpass-test';

function ask(prompt: string, env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string } {
  const pinFile = join(dir, "it's the pin");
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  const script = join(dir, 'askpass');
  writeFileSync(script, askpassScript(pinFile), { mode: 0o700 });
  const result = spawnSync(script, [prompt], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout };
}

describe('the doctor\'s askpass', () => {
  test('answers the PKCS#11 PIN prompt with the PIN', () => {
    expect(ask("Enter PIN for 'PIV Card Holder pin (PIV_II)': ")).toEqual({ code: 0, stdout: `${PIN}\n` });
    expect(ask("Enter PIN for 'YubiKey PIV #12345678': ")).toEqual({ code: 0, stdout: `${PIN}\n` });
  });

  test('refuses everything else, with no output', () => {
    for (const prompt of [
      'Are you sure you want to continue connecting (yes/no/[fingerprint])? ',
      "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\nED25519 key fingerprint is SHA256:x.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ",
      "Enter passphrase for key '/root/.ssh/id_ed25519': ",
      "root@127.0.0.1's password: ",
      "Host key changed. Enter PIN for 'x': ",
      '',
    ]) {
      expect(ask(prompt)).toEqual({ code: 1, stdout: '' });
    }
  });

  test('refuses a confirmation ssh marks with SSH_ASKPASS_PROMPT, even if worded like a PIN prompt', () => {
    expect(ask("Enter PIN for 'x': ", { SSH_ASKPASS_PROMPT: 'confirm' })).toEqual({ code: 1, stdout: '' });
  });
});

describe('withPrivateDirectory', () => {
  test('a 0700 directory, removed after the work and after an exception', async () => {
    let kept = '';
    await withPrivateDirectory('pe-private-', async (d) => {
      kept = d.path;
      expect(statSync(d.path).mode & 0o777).toBe(0o700);
      writeFileSync(join(d.path, 'pin'), 'x', { mode: 0o600 });
    });
    expect(existsSync(kept)).toBe(false);
    await expect(
      withPrivateDirectory('pe-private-', async (d) => {
        kept = d.path;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(kept)).toBe(false);
  });

  const MODULE = new URL('../../dist/operations/private-directory.js', import.meta.url).href;

  /** A node process inside withPrivateDirectory, waiting; `setup` runs first (e.g. another SIGINT handler). */
  function holder(setup = ''): Promise<{ path: string; child: ReturnType<typeof spawn> }> {
    const code = `${setup}
      const { withPrivateDirectory } = await import(${JSON.stringify(MODULE)});
      const { writeFileSync } = await import('node:fs');
      await withPrivateDirectory('pe-private-signal-', async (d) => {
        writeFileSync(d.path + '/pin', 'x', { mode: 0o600 });
        d.onAbandon(() => writeFileSync(${JSON.stringify(join(dir, 'abandoned'))}, 'yes'));
        console.log(d.path);
        await new Promise(() => setInterval(() => {}, 1000));
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve({ path: d.toString().trim(), child }));
      child.once('exit', (code, signal) => reject(new Error(`exited early: ${code} ${signal}`)));
    });
  }

  const exited = (child: ReturnType<typeof spawn>) => new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`removed on ${signal}, and the process still dies of it`, async () => {
      rmSync(join(dir, 'abandoned'), { force: true });
      const { path, child } = await holder();
      expect(existsSync(join(path, 'pin'))).toBe(true);
      const done = exited(child);
      child.kill(signal);
      expect(await done).toEqual({ code: null, signal });
      expect(existsSync(path)).toBe(false);
      expect(existsSync(join(dir, 'abandoned'))).toBe(true);
    });
  }

  test('removed when another SIGINT handler ends the process with process.exit (the CLI\'s Ctrl-C)', async () => {
    const { path, child } = await holder("process.on('SIGINT', () => process.exit(130));");
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toEqual({ code: 130, signal: null });
    expect(existsSync(path)).toBe(false);
  });
});
