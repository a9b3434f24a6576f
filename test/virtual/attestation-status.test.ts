/** status and doctor give each slot key's attestation verdict: verified, the refusal reason, or not generated on the card. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { run } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';
const SERIAL = '20261717';

async function enrolledCard(keySource: 'card' | 'host'): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-attest-status-')), 'card.json');
  const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--serial', SERIAL, '--user', 'ana', '--algorithm', 'ECCP256', '--key-source', keySource, '--inventory', 'none', '--yes'], {
    env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
  });
  expect(enrolled.code, enrolled.stderr).toBe(0);
  return file;
}

async function status(file: string, extra: string[] = []) {
  const result = await run(process.execPath, [CLI, 'status', '--virtual', file, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

async function doctor(file: string, extra: string[] = []) {
  const result = await run(process.execPath, [CLI, 'doctor', '--virtual', file, '--json', ...extra], { env: { PIV_PIN: PIN } });
  return { code: result.code, report: JSON.parse(result.stdout) as { findings: Array<{ id: string; severity: string; summary: string }> } };
}

describe('attestation verdicts in status and doctor', () => {
  test('a card-generated key: verified against the virtual card test root', async () => {
    const file = await enrolledCard('card');
    const text = await status(file);
    expect(text).toContain('Attestation: verified (Yubico + piv-enroll virtual card test root)');
    const json = JSON.parse(await status(file, ['--json']));
    expect(json.slots.find((s: { slot: string }) => s.slot === '9C').attestation).toEqual({ verdict: 'verified', trust: 'Yubico + piv-enroll virtual card test root' });
    const { code, report } = await doctor(file);
    expect(code).toBe(0);
    expect(report.findings.find((f) => f.id === 'attestation-verified')).toMatchObject({ severity: 'ok' });
  });

  test('a tampered attestation: the reason, and a doctor problem', async () => {
    const file = await enrolledCard('card');
    expect(await status(file, ['--fault', 'attest-other-serial'])).toContain(`Attestation: other-serial — the attestation is for serial ${Number(SERIAL) + 1}, but the card is ${SERIAL}`);
    expect(await status(file, ['--fault', 'attest-other-key'])).toContain('Attestation: other-key — the attested key is not the key in the slot');
    const { code, report } = await doctor(file, ['--fault', 'attest-broken-signature']);
    expect(code).toBe(1);
    expect(report.findings.find((f) => f.id === 'attestation-broken-signature')).toMatchObject({ severity: 'problem' });
    const chain = await doctor(file, ['--fault', 'attest-wrong-chain']);
    expect(chain.report.findings.find((f) => f.id === 'attestation-wrong-chain')).toMatchObject({ severity: 'warning', summary: expect.stringContaining('Counterfeit PIV Attestation Root') });
  });

  test('an imported key: not generated on the card', async () => {
    const file = await enrolledCard('host');
    expect(await status(file)).toContain('Attestation: not-generated-on-card — the key was imported');
    const { report } = await doctor(file);
    expect(report.findings.find((f) => f.id === 'attestation-none')).toMatchObject({ severity: 'ok' });
  });
});
