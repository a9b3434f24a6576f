/**
 * Attestation inside enroll (issue 17): a card-generated key on the virtual card is attested and verified against its
 * test root; with --require-attestation a tampered attestation stops the enrollment with its reason before the
 * inventory; the evidence (certificates, facts, verdict, trust) is kept in the inventory and shown by inventory show.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runEnroll, type EnrollFlags } from '../../src/cli/commands/enroll.js';
import { runInventoryShow } from '../../src/cli/commands/inventory.js';
import type { Output } from '../../src/cli/output.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { AttestationRefusedError } from '../../src/operations/attestation/evidence.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-attest-'));
const SERIAL = 20260017;
const noPrompter: Prompter = {
  input: async () => { throw new Error('no questions'); },
  password: async () => { throw new Error('no questions'); },
  confirm: async () => { throw new Error('no questions'); },
  say: () => undefined,
};

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

async function enroll(dir: string, flags: Partial<EnrollFlags>) {
  const output = captured();
  const code = await runEnroll(
    { virtual: join(dir, 'card.json'), serial: SERIAL, user: 'ana', algorithm: 'ECCP256', keySource: 'card', out: join(dir, 'out'), inventory: join(dir, 'inventory.sqlite'), yes: true, json: true, ...flags },
    output,
    { env: { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' }, interactive: false, prompter: noPrompter },
  );
  return { code, output };
}

async function enrollments(dir: string) {
  const inventory = await Inventory.open(join(dir, 'inventory.sqlite'));
  try {
    return await Promise.all((await inventory.enrollments({ status: 'all' })).map(async (r) => ({ ...r, attestations: await inventory.attestations(r.id) })));
  } finally {
    await inventory.close();
  }
}

describe('enroll --key-source card: the attestation checked and kept', () => {
  test('the virtual card\'s key verifies against its test root; the PEMs are written and the evidence recorded', async () => {
    const dir = scratch();
    const { code, output } = await enroll(dir, { requireAttestation: true });
    expect(code, output.err.join('\n')).toBe(0);
    const json = JSON.parse(output.out.join('\n'));
    expect(json.attestationVerdict).toMatchObject({ verified: true, trust: 'Yubico + piv-enroll virtual card test root', facts: { serial: SERIAL, pinPolicy: 'ALWAYS' } });
    const attestation = new X509Certificate(readFileSync(join(dir, 'out', 'piv-9c-attestation.pem')));
    const f9 = new X509Certificate(readFileSync(join(dir, 'out', 'piv-9c-attestation-f9.pem')));
    expect(attestation.verify(f9.publicKey)).toBe(true);
    expect(json.files).toContain(join(dir, 'out', 'piv-9c-attestation-f9.pem'));
    const [record] = await enrollments(dir);
    expect(record!.attestations).toHaveLength(1);
    expect(record!.attestations[0]).toMatchObject({
      verdict: 'verified', trust: 'Yubico + piv-enroll virtual card test root', facts: { serial: SERIAL, pinPolicy: 'ALWAYS', touchPolicy: 'NEVER' },
      chain: ['CN=YubiKey PIV Attestation 9c', `CN=Yubico PIV Attestation (piv-enroll virtual card)\nserialNumber=${SERIAL}`, 'CN=piv-enroll virtual card test root'],
    });
    expect(new X509Certificate(record!.attestations[0]!.attestationPem!).fingerprint256).toBe(attestation.fingerprint256);
    expect(new X509Certificate(record!.attestations[0]!.deviceCertificatePem!).fingerprint256).toBe(f9.fingerprint256);
    const show = captured();
    expect(await runInventoryShow('ana', { inventory: join(dir, 'inventory.sqlite') }, show)).toBe(0);
    const text = show.out.join('\n');
    expect(text).toContain('attestation: verified, against Yubico + piv-enroll virtual card test root');
    expect(text).toContain(`facts: firmware 5.7.2, serial ${SERIAL}, pinPolicy ALWAYS, touchPolicy NEVER`);
    expect(text).toContain('-----BEGIN CERTIFICATE-----');
    expect(text).toMatch(/attest: verified/); // the event
  });

  for (const [fault, reason, message] of [
    ['attest-other-key', 'other-key', /the attested key is not the key in the slot/],
    ['attest-other-serial', 'other-serial', new RegExp(`the attestation is for serial ${SERIAL + 1}, but the card is ${SERIAL}`)],
    ['attest-broken-signature', 'broken-signature', /signature of the attestation certificate does not verify/],
    ['attest-wrong-chain', 'wrong-chain', /issued by CN=Counterfeit PIV Attestation Root, which is not among the roots/],
  ] as const) {
    test(`a tampered attestation (${fault}) stops the enrollment with --require-attestation: ${reason}, nothing recorded`, async () => {
      const dir = scratch();
      const refused = enroll(dir, { requireAttestation: true, faults: [fault] });
      await expect(refused).rejects.toBeInstanceOf(AttestationRefusedError);
      await expect(refused).rejects.toMatchObject({ reason, message: expect.stringMatching(message) });
      expect(await enrollments(dir)).toEqual([]);
    });
  }

  test('without --require-attestation a refused attestation is kept as such, and the enrollment goes on', async () => {
    const dir = scratch();
    const { code, output } = await enroll(dir, { faults: ['attest-other-serial'] });
    expect(code, output.err.join('\n')).toBe(0);
    const [record] = await enrollments(dir);
    expect(record!.attestations[0]).toMatchObject({ verdict: 'other-serial', verdictMessage: `the attestation is for serial ${SERIAL + 1}, but the card is ${SERIAL}` });
  });

  test('--require-attestation with a host-made key is refused before the card is touched', async () => {
    const dir = scratch();
    await expect(enroll(dir, { requireAttestation: true, keySource: 'host' })).rejects.toThrow(/only a key generated on the card has one: use --key-source card/);
    expect(existsSync(join(dir, 'card.json'))).toBe(false);
  });

  test('a site policy requiring generated keys requires the proof: a tampered attestation is refused without --require-attestation', async () => {
    const dir = scratch();
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'require:\n  key-origin: generated\n  pin-policy: [always]\n');
    const refused = enroll(dir, { policy, faults: ['attest-other-serial'] });
    await expect(refused).rejects.toBeInstanceOf(AttestationRefusedError);
    await expect(refused).rejects.toMatchObject({ reason: 'other-serial' });
    expect(await enrollments(dir)).toEqual([]);
  });

  test('under a site policy the attested facts are judged by its rules, and the verdict is kept with the evidence', async () => {
    const dir = scratch();
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'require:\n  key-origin: generated\n  pin-policy: [always]\n  touch-policy: [never]\n  min-firmware: 5.4.3\n');
    const { code, output } = await enroll(dir, { policy });
    expect(code, output.err.join('\n')).toBe(0);
    expect(JSON.parse(output.out.join('\n')).attestationVerdict).toMatchObject({ verified: true, policy: { allowed: true, reasons: [] } });
    const [record] = await enrollments(dir);
    expect(record!.attestations[0]).toMatchObject({ verdict: 'verified', policyVerdict: { allowed: true, reasons: [] } });
  });
});
