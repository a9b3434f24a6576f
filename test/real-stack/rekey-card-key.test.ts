/**
 * A re-key keeps what the card had: a key generated on a 5.7 card is re-keyed on the card (staged in a retired slot,
 * deployed and certified, moved in with MOVE KEY), with the same PIN and touch policies, and attested; a login through
 * `ssh -I opensc-pkcs11.so` works after every step. On a 5.4 card the choice is explicit. A re-key stopped after any
 * step, then `offboard`, leaves no key of the person on the host. A CA on a second card re-issues the certificate.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { runRekey, type RekeyFlags } from '../../src/cli/commands/rekey.js';
import { terminalPrompter } from '../../src/cli/prompter.js';
import type { RekeyStep } from '../../src/operations/rekey.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { makeIdentity, startHost, stopHost, type TestIdentity, type TestSshd } from '../ssh/support/deploy-hosts.js';
import { CLI, OPENSC_PKCS11, READER, run, runOk, scratchDir, SECOND_READER, serveCard, withSession, type ServedCard } from './bench.js';
import { askpassFor } from './sshd.js';

const PIN = '24681357';
const PASSPHRASE = 'correct horse battery';
const ENV = { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864', PIV_PIN: PIN, PIV_CA_PASSPHRASE: PASSPHRASE };
const quiet = { result: () => undefined, notice: () => undefined, error: () => undefined };

interface Scene {
  dir: string;
  card: ServedCard;
  caCard?: ServedCard;
  host: TestSshd;
  deployer: TestIdentity;
  knownHosts: string;
  inventory: string;
  ca: string;
}

const scenes: Scene[] = [];

/** A card enrolled with a key generated on it, ECCP256, PIN policy once, touch policy cached, deployed and certified. */
async function enrolledScene(firmware: string, options: { caOnCard?: boolean } = {}): Promise<Scene> {
  const dir = scratchDir();
  const deployer = await makeIdentity(dir, 'deployer');
  const host = await startHost(deployer);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
  const inventory = join(dir, 'inventory.sqlite');
  const ca = join(dir, 'ca');
  const scene: Scene = { dir, card: await serveCard({ firmware }), host, deployer, knownHosts, inventory, ca };
  scenes.push(scene);
  const caFlags: string[] = [];
  if (options.caOnCard) {
    scene.caCard = await serveCard({ port: 35966, firmware: '5.7.2' });
    await runOk(process.execPath, [CLI, 'enroll', '--reader', SECOND_READER, '--slot', '9d', '--user', 'ca', '--algorithm', 'ECCP256', '--keep-default-credentials', '--pkcs11', 'none', '--yes', '--inventory', 'none']);
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--on-card', '--slot', '9d', '--reader', SECOND_READER]);
    caFlags.push('--ca-reader', SECOND_READER);
  } else {
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', 'ed25519'], { env: ENV });
  }
  await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'ana', '--key-source', 'card', '--algorithm', 'ECCP256', '--pin-policy', 'once', '--touch-policy', 'cached',
    '--pkcs11', 'none', '--yes', '--inventory', inventory, '--ca', ca, ...caFlags, '--out', join(dir, 'out'), '--deploy-to', host.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts],
    { env: { ...ENV, PIV_CA_PIN: '123456' } });
  return scene;
}

afterEach(async () => {
  for (const scene of scenes.splice(0)) {
    await stopHost(scene.host);
    expect(await scene.card.stop()).toBe(0);
    if (scene.caCard) expect(await scene.caCard.stop()).toBe(0);
    rmSync(scene.dir, { recursive: true, force: true });
  }
});

async function login(scene: Scene): Promise<void> {
  const result = await run('ssh', ['-F', '/dev/null', '-p', scene.host.spec.split(':').pop()!, '-o', 'BatchMode=no', '-o', `UserKnownHostsFile=${scene.knownHosts}`, '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no', '-I', OPENSC_PKCS11, `${scene.host.user.name}@127.0.0.1`, 'echo logged-in'], { env: askpassFor(PIN).env });
  expect(result.code, result.stderr).toBe(0);
}

const flags = (scene: Scene, extra: Partial<RekeyFlags> = {}): RekeyFlags => ({
  reader: READER, inventory: scene.inventory, force: true, out: join(scene.dir, 'out'), pkcs11: 'none', identity: scene.deployer.privateKey, knownHosts: scene.knownHosts, json: true, yes: true, ...extra,
});

async function rekey(scene: Scene, extra: Partial<RekeyFlags> = {}, afterStep?: (step: RekeyStep) => Promise<void>): Promise<Record<string, unknown>> {
  const outputs: string[] = [];
  const code = await runRekey(flags(scene, extra), { ...quiet, result: (t) => outputs.push(t) }, { env: { ...process.env, ...ENV, PIV_CA_PIN: '123456' }, prompter: terminalPrompter, afterStep });
  expect(code).toBe(0);
  return JSON.parse(outputs[0]!) as Record<string, unknown>;
}

const slotKey = () => withSession((session) => session.getSlotMetadata(0x9c));
const hostKeys = (scene: Scene) => readFileSync(scene.host.user.authorizedKeys, 'utf8').trim().split('\n').filter((l) => !l.includes(scene.deployer.line.split(' ')[1]!));

describe.skipIf(!inject('benchReady'))('rekey keeps what the card had', () => {
  test('5.7: a card-generated key is re-keyed on the card (staged, moved in), same policies, attested; a login works after every step', async () => {
    const scene = await enrolledScene('5.7.2');
    const before = await slotKey();
    expect(before).toMatchObject({ origin: 'generated', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED });
    const oldLine = hostKeys(scene)[0]!;
    await login(scene);
    const steps: RekeyStep[] = [];
    const report = await rekey(scene, {}, async (step) => {
      steps.push(step);
      await login(scene);
    });
    expect(steps).toEqual(['new-key-deployed', 'certificates-issued', 'card-rekeyed', 'old-key-removed', 'old-certificates-revoked']);
    expect(report).toMatchObject({ action: 'rekeyed', plan: { origin: 'card-staged' } });
    const after = await slotKey();
    expect(after).toMatchObject({ origin: 'generated', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED, algorithm: before.algorithm });
    expect(after.publicKey.equals(before.publicKey)).toBe(false);
    // The attestation of the slot certifies the new key: it was generated on the card.
    const attested = new X509Certificate(Buffer.from(await withSession((session) => session.attest(0x9c))));
    expect(attested.publicKey.export({ type: 'spki', format: 'der' }).equals(after.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    // The staging slot is empty again, the old key is off the host, the new one on it.
    await expect(withSession((session) => session.getSlotMetadata(Number.parseInt(String((report.plan as { stagingSlot: string }).stagingSlot), 16)))).rejects.toThrow();
    expect(hostKeys(scene)).toHaveLength(1);
    expect(hostKeys(scene)[0]).not.toBe(oldLine);
    const recorded = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', scene.inventory, '--json'])).stdout)[0];
    expect(recorded.options).toMatchObject({ keySource: 'card', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED });
    await login(scene);
  });

  test('5.4: a card-generated key needs an explicit choice; --key-source host and --key-source card both work and say what they cost', async () => {
    const scene = await enrolledScene('5.4.3');
    const refused = await runRekey(flags(scene), quiet, { env: { ...process.env, ...ENV }, prompter: terminalPrompter }).catch((error: Error) => error);
    expect(String(refused)).toMatch(/cannot stage a new one \(MOVE KEY needs 5\.7\)\. Choose: --key-source card .* --key-source host/);
    const host = await rekey(scene, { keySource: 'host' });
    expect(host).toMatchObject({ action: 'rekeyed', plan: { origin: 'host', notes: [expect.stringMatching(/existed off the card/)] } });
    expect(await slotKey()).toMatchObject({ origin: 'imported', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED });
    await login(scene);
    const steps: RekeyStep[] = [];
    const card = await rekey(scene, { keySource: 'card' }, async (step) => void steps.push(step));
    expect(card).toMatchObject({ action: 'rekeyed', plan: { origin: 'card-in-place', notes: [expect.stringMatching(/logins with this card fail from that moment/)] } });
    expect(steps[0]).toBe('card-rekeyed'); // the gap the plan stated: the card changes before the hosts learn the key
    expect(await slotKey()).toMatchObject({ origin: 'generated', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED });
    expect(hostKeys(scene)).toHaveLength(1);
    await login(scene);
  });

  test.each<RekeyStep>(['new-key-deployed', 'certificates-issued', 'card-rekeyed', 'old-key-removed'])('a re-key stopped after %s, then offboard: no key of the person is left on the host', async (stop) => {
    const scene = await enrolledScene('5.7.2');
    const outputs: string[] = [];
    await expect(
      runRekey(flags(scene), { ...quiet, result: (t) => outputs.push(t) }, {
        env: { ...process.env, ...ENV }, prompter: terminalPrompter,
        afterStep: async (step) => {
          if (step === stop) throw new Error('power cut');
        },
      }),
    ).rejects.toThrow(/power cut/);
    expect(hostKeys(scene).length).toBeGreaterThan(0);
    const offboarded = await run(process.execPath, [CLI, 'offboard', '--user', 'ana', '--inventory', scene.inventory, '--identity', scene.deployer.privateKey, '--known-hosts', scene.knownHosts]);
    expect(offboarded.code, offboarded.stderr + offboarded.stdout).toBe(0);
    expect(hostKeys(scene)).toEqual([]);
  });

  test('a CA on a second card re-issues the SSH certificate for the new key', async () => {
    const scene = await enrolledScene('5.7.2', { caOnCard: true });
    const report = await rekey(scene, { caReader: SECOND_READER });
    const certificates = report.certificates as Array<{ file: string; serial: number }>;
    expect(certificates).toHaveLength(1);
    const listed = (await runOk('ssh-keygen', ['-L', '-f', join(scene.dir, 'out', 'piv-9c-cert.pub')])).stdout;
    expect(listed).toContain(`Public key: ECDSA-CERT ${String(report.newFingerprint)}`);
    expect(listed).toContain(`Serial: ${certificates[0]!.serial}`);
  });
});
