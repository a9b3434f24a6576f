/**
 * A machine without libpcsclite-dev (or without a compiler) gets no native addons: the project must still build and
 * the README's main job must still run, on the embedded virtual card, saying why. This copies the project beside a
 * node_modules that has everything but the three addons, builds it there with tsc, and runs the README's own command.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run } from '../support/run.js';

const root = new URL('../..', import.meta.url).pathname;
const ADDONS = ['smartcard', 'pkcs11js', 'better-sqlite3'];

/** The shell block after `<!-- ci: NAME -->` in README.md (as .ci/run reads it). */
export async function readmeCommand(name: string): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- ci: ${name} -->\\n\`\`\`sh\\n([^]*?)\\n\`\`\``).exec(readme);
  if (!match) throw new Error(`README.md has no block marked <!-- ci: ${name} -->`);
  return match[1]!.trim();
}

describe('a machine without the native addons', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'piv-enroll-fresh-'));
    for (const entry of ['src', 'bin', 'templates', 'package.json', 'tsconfig.json']) await cp(join(root, entry), join(dir, entry), { recursive: true });
    await mkdir(join(dir, 'node_modules'));
    for (const name of await readdir(join(root, 'node_modules'))) {
      if (ADDONS.includes(name) || name === '.bin' || name.startsWith('.')) continue;
      await symlink(join(root, 'node_modules', name), join(dir, 'node_modules', name));
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('builds with tsc and runs the README main job on the embedded virtual card', async () => {
    for (const addon of ADDONS) await expect(stat(join(dir, 'node_modules', addon))).rejects.toThrow();
    const build = await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, timeoutMs: 120_000 });
    expect(build.stdout + build.stderr).toBe('');
    expect(build.code).toBe(0);

    const command = await readmeCommand('main-job');
    expect(command.startsWith('npm install && ')).toBe(true); // the install is what this test stands in for
    // The README's user has no PIV_ENROLL_INVENTORY: the default inventory, which a stand-in card skips.
    const env = { XDG_STATE_HOME: join(dir, 'state'), HOME: dir, PIV_ENROLL_INVENTORY: '' };
    const result = await run('sh', ['-c', command.slice('npm install && '.length)], { cwd: dir, env, timeoutMs: 120_000 });
    expect(result.stderr).toContain('the smartcard module is not installed');
    expect(result.stderr).toContain('sudo apt-get install pcscd libpcsclite-dev');
    expect(result.stderr).toContain('Using the embedded virtual card');
    expect(result.stderr).toContain('Not recorded in the inventory');
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(result.code).toBe(0);
    const out = /--out (\S+)/.exec(command)![1]!;
    for (const file of ['piv-9c.pub', 'piv-9c-public.pem', 'piv-9c-cert.pem']) expect((await stat(join(dir, out, file))).size).toBeGreaterThan(0);
    expect(await readFile(join(dir, out, 'piv-9c.pub'), 'utf8')).toMatch(/^ssh-rsa AAAA/);
  });

  test('without pkcs11js the PKCS#11 checks are reported as unavailable (not as bad signatures)', async () => {
    const probe = `import('./dist/operations/pkcs11-verify.js').then(async ({ verifyThroughPkcs11 }) => {
      const { generateKeyPairSync } = await import('node:crypto');
      const { keyAlgorithmByName } = await import('./dist/standards/algorithms.js');
      const checks = await verifyThroughPkcs11({ module: { name: 'opensc', path: '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so' }, reader: 'any', slot: 0x9c,
        algorithm: keyAlgorithmByName('ECCP256'), publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, pin: '123456', random: (n) => new Uint8Array(n) });
      process.stdout.write(JSON.stringify(checks));
    })`;
    const result = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: dir, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const checks = JSON.parse(result.stdout) as Array<{ valid: boolean; unsupported?: boolean; error?: string }>;
    expect(checks.length).toBeGreaterThan(0);
    for (const check of checks) expect(check).toMatchObject({ valid: false, unsupported: true, error: expect.stringContaining('the pkcs11js module is not installed or did not build') });
  });

  // The same machine has no card at all: the stand-in is for the plain local demo only (DEVELOPERS.md rule 3).
  test.each([
    ['enroll --deploy-to', ['enroll', '--user', 'ana', '--yes', '--keep-default-credentials', '--deploy-to', 'ana@127.0.0.1:1'], 'is not used for deploying a key to hosts'],
    ['enroll --ca', ['enroll', '--user', 'ana', '--yes', '--keep-default-credentials', '--ca', 'ca-dir'], 'is not used for an SSH CA certificate'],
    ['enroll --inventory FILE', ['enroll', '--user', 'ana', '--yes', '--keep-default-credentials', '--inventory', 'shared.sqlite'], 'is not used for recording a card in a named inventory'],
    ['enroll --csr', ['enroll', '--user', 'ana', '--yes', '--keep-default-credentials', '--csr', 'requests'], 'is not used for a certificate request for an X.509 CA'],
    ['enroll --handout', ['enroll', '--user', 'ana', '--yes', '--keep-default-credentials', '--inventory', 'none', '--handout', 'handouts'], 'is not used for a handout for a person'],
    ['rekey', ['rekey', '--inventory', 'shared.sqlite', '--force'], 'is not used for a re-key'],
    ['deploy --slot', ['deploy', '--slot', '9c', '--host', 'ana@127.0.0.1:1'], 'is not used for deploying a key to hosts'],
    // A batch never has a stand-in (it works on readers); here it stops at its inventory, the first thing it opens.
    ['batch', ['batch', '--manifest', 'people.yaml', '--yes', '--inventory', 'shared.sqlite'], 'needs the better-sqlite3 module'],
  ])('without a card, %s refuses and makes no virtual card', async (_name, args, message) => {
    const state = await mkdtemp(join(dir, 'state-'));
    await writeFile(join(dir, 'people.yaml'), '- user: ana\n  card-serial: 12345678\n');
    const result = await run(process.execPath, ['bin/piv-enroll', ...args], { cwd: dir, env: { XDG_STATE_HOME: state, HOME: dir, PIV_ENROLL_INVENTORY: '' }, timeoutMs: 60_000 });
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    await expect(stat(join(state, 'piv-enroll', 'virtual-card.json'))).rejects.toThrow();
    await expect(stat(join(dir, 'shared.sqlite'))).rejects.toThrow();
    await expect(stat(join(dir, 'handouts'))).rejects.toThrow();
  });

  // The card's later life changes a card and records it: never on the stand-in.
  test.each([
    ['pin change', ['pin', 'change', '--inventory', 'none'], 'is not used for changing a PIN'],
    ['pin unblock', ['pin', 'unblock', '--inventory', 'none'], 'is not used for unblocking a PIN'],
    ['reset', ['reset', '--inventory', 'none', '--yes'], 'is not used for resetting a card'],
  ])('without a card, %s refuses and makes no virtual card', async (_name, args, message) => {
    const state = await mkdtemp(join(dir, 'state-'));
    const env = { XDG_STATE_HOME: state, HOME: dir, PIV_ENROLL_INVENTORY: '', PIV_PIN: '24681357', PIV_PUK: '97531864', PIV_NEW_PIN: '11223344' };
    const result = await run(process.execPath, ['bin/piv-enroll', ...args], { cwd: dir, env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    await expect(stat(join(state, 'piv-enroll', 'virtual-card.json'))).rejects.toThrow();
  });
});
