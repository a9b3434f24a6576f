/**
 * `rekey` through the real stack: the card's key is replaced while its owner can log in at every moment — an
 * `ssh -I opensc-pkcs11.so` login into a real sshd (a real test user) after each step succeeds. Afterwards the old key
 * is off the host and its SSH certificate revoked, the new key and certificate are in place. A re-key that stops after
 * putting the new key on the hosts is cleaned up and completed by the next run.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, test } from 'vitest';
import { runRekey, type RekeyStep } from '../../src/cli/commands/rekey.js';
import { terminalPrompter } from '../../src/cli/prompter.js';
import { makeIdentity, startHost, stopHost, type TestIdentity, type TestSshd } from '../ssh/support/deploy-hosts.js';
import { CLI, OPENSC_PKCS11, READER, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';
import { askpassFor } from './sshd.js';

const PIN = '24681357';
const PASSPHRASE = 'correct horse battery';
const ENV = { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864', PIV_PIN: PIN, PIV_CA_PASSPHRASE: PASSPHRASE };

describe.skipIf(!inject('benchReady'))('rekey, with a login between every step', () => {
  let card: ServedCard | undefined;
  let host: TestSshd | undefined;
  let dir: string;
  let deployer: TestIdentity;
  let knownHosts: string;
  let inventory: string;
  let ca: string;

  beforeEach(async () => {
    dir = scratchDir();
    deployer = await makeIdentity(dir, 'deployer');
    host = await startHost(deployer);
    knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
    inventory = join(dir, 'inventory.sqlite');
    ca = join(dir, 'ca');
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', 'ed25519'], { env: ENV });
    card = await serveCard();
    await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'ana', '--pkcs11', 'none', '--yes', '--inventory', inventory, '--ca', ca, '--out', join(dir, 'out'),
      '--deploy-to', host.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts], { env: ENV });
  });

  afterEach(async () => {
    await stopHost(host);
    if (card) expect(await card.stop()).toBe(0);
    [card, host] = [undefined, undefined];
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(): Promise<void> {
    const result = await run('ssh', ['-F', '/dev/null', '-p', host!.spec.split(':').pop()!, '-o', 'BatchMode=no', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'PasswordAuthentication=no',
      '-o', 'KbdInteractiveAuthentication=no', '-I', OPENSC_PKCS11, `${host!.user.name}@127.0.0.1`, 'echo logged-in'], { env: askpassFor(PIN).env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('logged-in');
  }

  const rekeyFlags = () => ({ reader: READER, inventory, force: true, out: join(dir, 'out'), pkcs11: 'none', identity: deployer.privateKey, knownHosts, json: true });
  const quiet = { result: () => undefined, notice: () => undefined, error: () => undefined };

  test('every step keeps the login working; the old key is gone and its certificate revoked afterwards', async () => {
    const before = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json'])).stdout)[0];
    await login();
    const steps: RekeyStep[] = [];
    const outputs: string[] = [];
    const code = await runRekey(rekeyFlags(), { ...quiet, result: (t) => outputs.push(t) }, {
      env: { ...process.env, ...ENV }, prompter: terminalPrompter,
      afterStep: async (step) => {
        steps.push(step);
        await login();
      },
    });
    expect(code).toBe(0);
    expect(steps).toEqual(['new-key-deployed', 'certificates-issued', 'card-rekeyed', 'old-key-removed', 'old-certificates-revoked']);
    const report = JSON.parse(outputs[0]!);
    expect(report.action).toBe('rekeyed');
    const authorized = readFileSync(host!.user.authorizedKeys, 'utf8');
    expect(authorized).not.toContain(before.authorizedKey.split(' ')[1]);
    const [after, ...rest] = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--status', 'all'])).stdout).sort((a: { id: number }, b: { id: number }) => a.id - b.id);
    expect(after.status).toBe('replaced');
    expect(rest[0]).toMatchObject({ status: 'active', fingerprint: report.newFingerprint });
    expect(rest[0].deployments.map((d: { state: string }) => d.state)).toEqual(['present']);
    expect(authorized).toContain(rest[0].authorizedKey.split(' ')[1]);
    // The old SSH certificate is revoked; the new one (same file name) certifies the new key.
    expect(after.caCertificates[0].revokedAt).toBeDefined();
    const certificate = join(dir, 'out', 'piv-9c-cert.pub');
    expect((await runOk('ssh-keygen', ['-L', '-f', certificate])).stdout).toContain(`Public key: RSA-CERT ${report.newFingerprint}`);
    expect((await run('ssh-keygen', ['-Q', '-f', join(ca, 'revoked.krl'), certificate])).code).toBe(0);
    await login();
  });

  test('a re-key that stops right after the card changed is finished by the next run: the old key retires', async () => {
    const oldKey = readFileSync(host!.user.authorizedKeys, 'utf8').trim().split('\n')[1]!;
    await expect(
      runRekey(rekeyFlags(), quiet, {
        env: { ...process.env, ...ENV }, prompter: terminalPrompter,
        afterStep: async (step) => {
          if (step === 'card-rekeyed') throw new Error('power cut');
        },
      }),
    ).rejects.toThrow(/power cut/);
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toContain(oldKey); // not retired yet
    await login(); // with the new key, already deployed
    const outputs: string[] = [];
    // Not due any more (fresh certificates), yet the unfinished retirement is completed.
    expect(await runRekey({ ...rekeyFlags(), force: false, expiringWithin: '1d' }, { ...quiet, result: (t) => outputs.push(t) }, { env: { ...process.env, ...ENV }, prompter: terminalPrompter })).toBe(0);
    const report = JSON.parse(outputs[0]!);
    expect(report.action).toBe('finished-earlier-rekey');
    expect(report.revoked).toHaveLength(1);
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).not.toContain(oldKey);
    await login();
  });

  test('a re-key that stops after deploying the new key is cleaned up and completed by the next run', async () => {
    const interrupted = runRekey(rekeyFlags(), quiet, {
      env: { ...process.env, ...ENV }, prompter: terminalPrompter,
      afterStep: async (step) => {
        if (step === 'new-key-deployed') throw new Error('power cut');
      },
    });
    await expect(interrupted).rejects.toThrow(/power cut/);
    const orphan = readFileSync(host!.user.authorizedKeys, 'utf8').trim().split('\n');
    expect(orphan).toHaveLength(3); // deployer, the old key, the orphaned new key
    await login();
    const outputs: string[] = [];
    expect(await runRekey(rekeyFlags(), { ...quiet, result: (t) => outputs.push(t) }, { env: { ...process.env, ...ENV }, prompter: terminalPrompter })).toBe(0);
    const report = JSON.parse(outputs[0]!);
    expect(report.notes.join(' ')).toMatch(/from an interrupted re-key\) off 1 host/);
    const lines = readFileSync(host!.user.authorizedKeys, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2); // deployer and the new key only
    expect(lines).not.toContain(orphan[2]);
    await login();
  });
});
