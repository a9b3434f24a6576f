import { X509Certificate, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { spkiDer } from '../../src/crypto/keys.js';
import { buildCertificate } from '../../src/crypto/x509.js';
import { PLACEHOLDER_SUBJECT } from '../../src/operations/enroll/inspect.js';
import { readProtectedManagementKey } from '../../src/piv/protected-management-key.js';
import { apduTarget } from '../../src/operations/enroll/apdu-target.js';
import { applyEnrollment, EnrollmentError } from '../../src/operations/enroll/apply.js';
import { inspectCard } from '../../src/operations/enroll/inspect.js';
import { DEFAULT_SLOT, DEFAULT_VALID_DAYS, type EnrollOptions } from '../../src/operations/enroll/options.js';
import { planEnrollment, type EnrollmentPlan, type MissingInput } from '../../src/operations/enroll/plan.js';
import { buildEnrollOptions } from '../../src/operations/enroll/enroll-inputs.js';
import { hasProtectedManagementKey } from '../../src/piv/protected-management-key.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { openTestCard, type TestCard } from './helpers.js';
import { runOk } from '../support/run.js';

const NEW_PIN = '24681357';
const NEW_PUK = '97531864';

async function readProtectedManagementKeyWithPin(card: TestCard, pin: string): Promise<Uint8Array> {
  await card.session.verifyPin(pin);
  return readProtectedManagementKey(card.session);
}

function options(overrides: Partial<EnrollOptions> = {}): EnrollOptions {
  return {
    card: {},
    backend: { kind: 'apdu' },
    slot: DEFAULT_SLOT,
    algorithm: keyAlgorithmByName('RSA2048')!,
    pinPolicy: PIN_POLICY.DEFAULT,
    touchPolicy: TOUCH_POLICY.DEFAULT,
    keySource: { kind: 'host' },
    subject: [{ type: 'CN', value: 'gofish543' }],
    validDays: DEFAULT_VALID_DAYS,
    hash: 'sha256',
    comment: 'gofish543 card',
    force: false,
    keepDefaultCredentials: false,
    ...overrides,
    secrets: { newPin: NEW_PIN, newPuk: NEW_PUK, ...overrides.secrets },
  };
}

async function plan(card: TestCard, opts: EnrollOptions): Promise<{ plan?: EnrollmentPlan; errors: string[]; missing: MissingInput[]; inspection: Awaited<ReturnType<typeof inspectCard>> }> {
  const inspection = await inspectCard(card.session, opts.slot);
  return { ...planEnrollment(opts, inspection), inspection };
}

async function enroll(card: TestCard, opts: EnrollOptions) {
  const { plan: p, errors, missing, inspection } = await plan(card, opts);
  expect([...errors, ...missing]).toEqual([]);
  return applyEnrollment(apduTarget(card.session), inspection, p!, opts);
}

describe('enrollment on the in-process virtual card', () => {
  test('factory-fresh 5.7 card, host RSA-2048 key: hardened, certified, exported, every algorithm verified', async () => {
    const card = await openTestCard();
    const out = mkdtempSync(join(tmpdir(), 'piv-enroll-out-'));
    const result = await enroll(card, options({ outDir: out }));
    expect(result.hardened).toEqual({ pin: true, puk: true, managementKey: 'AES192' });
    expect(result.verification.map((c) => [c.algorithm, c.valid])).toEqual([
      ['rsa-sha2-256', true],
      ['rsa-sha2-512', true],
      ['ssh-rsa', true],
    ]);
    const { session } = card;
    expect((await session.getPinMetadata()).isDefault).toBe(false);
    expect((await session.getPukMetadata()).isDefault).toBe(false);
    expect((await session.getManagementKeyMetadata()).isDefault).toBe(false);
    expect(await hasProtectedManagementKey(session)).toBe(true);
    await session.verifyPin(NEW_PIN);
    const metadata = await session.getSlotMetadata(0x9c);
    expect(metadata).toMatchObject({ origin: 'imported', pinPolicy: PIN_POLICY.ALWAYS });
    const certificate = new X509Certificate(await session.getCertificate(0x9c));
    expect(certificate.subject).toBe('CN=gofish543');
    expect(certificate.verify(metadata.publicKey)).toBe(true); // signed on the card by its own key
    expect(result.authorizedKey).toMatch(/^ssh-rsa AAAA\S+ gofish543 card$/);
    expect(readFileSync(join(out, 'piv-9c.pub'), 'utf8')).toBe(`${result.authorizedKey}\n`);
    expect(createPublicKey(readFileSync(join(out, 'piv-9c-public.pem'))).export({ format: 'jwk' })).toEqual(metadata.publicKey.export({ format: 'jwk' }));
    const keygen = await runOk('ssh-keygen', ['-lf', join(out, 'piv-9c.pub')]).catch(() => undefined);
    if (keygen) expect(keygen.stdout).toContain(result.fingerprint);
    expect(result.chuidGuid).toMatch(/^[0-9A-F]{32}$/);
  });

  test('key generated on the card (P-256): attestation saved and chained to F9', async () => {
    const card = await openTestCard();
    const out = mkdtempSync(join(tmpdir(), 'piv-enroll-out-'));
    const result = await enroll(card, options({ algorithm: keyAlgorithmByName('ECCP256')!, keySource: { kind: 'card' }, touchPolicy: TOUCH_POLICY.CACHED, outDir: out }));
    expect(result.verification).toEqual([{ algorithm: 'ecdsa-sha2-nistp256', path: 'apdu', legacy: false, valid: true }]);
    const attestation = new X509Certificate(readFileSync(join(out, 'piv-9c-attestation.pem')));
    expect(attestation.verify(new X509Certificate(await card.session.getCertificate(0xf9)).publicKey)).toBe(true);
    expect(result.authorizedKey).toMatch(/^ecdsa-sha2-nistp256 /);
  });

  test('an existing key, OpenSSH format and passphrase-protected (what ssh-keygen -f gofish writes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-key-'));
    const file = join(dir, 'gofish');
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', file]);
    const card = await openTestCard();
    // The key file is read while the options are built, before the card is opened: a wrong passphrase changes nothing.
    const wrong = await buildEnrollOptions({ card: {}, importFile: file, user: 'gofish543', secrets: { newPin: NEW_PIN, newPuk: '97531864', keyPassphrase: 'wrong' } });
    expect(wrong.problems).toEqual([expect.stringMatching(/wrong passphrase/)]);
    const built = await buildEnrollOptions({ card: {}, importFile: file, user: 'gofish543', secrets: { newPin: NEW_PIN, newPuk: '97531864', keyPassphrase: 'correct horse' } });
    expect(built.options!.algorithm.name).toBe('ED25519'); // the key's own algorithm
    const result = await enroll(card, built.options!);
    expect(result.authorizedKey.split(' ').slice(0, 2).join(' ')).toBe(readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' '));
    expect(result.verification).toEqual([{ algorithm: 'ssh-ed25519', path: 'apdu', legacy: false, valid: true }]);
  });

  test('an occupied slot is refused without --force and replaced with it', async () => {
    const card = await openTestCard();
    await enroll(card, options({ algorithm: keyAlgorithmByName('ECCP256')! }));
    const again = options({ secrets: { pin: NEW_PIN } });
    const refused = await plan(card, again);
    expect(refused.errors).toEqual([expect.stringMatching(/slot 9C already holds an ECCP256 key \(imported\) with certificate CN=gofish543: give --force/)]);
    const forced = await enroll(card, { ...again, force: true });
    expect(forced.algorithm).toBe('RSA2048');
  });

  test('a half-done slot (key in, no certificate) is detected and finished', async () => {
    const card = await openTestCard();
    const first = await enroll(card, options({ algorithm: keyAlgorithmByName('ECCP256')! }));
    await card.session.verifyPin(NEW_PIN);
    await card.session.deleteCertificate(0x9c).catch(async () => undefined);
    const resumed = await plan(card, options({ algorithm: keyAlgorithmByName('ECCP256')!, secrets: { pin: NEW_PIN } }));
    expect(resumed.errors).toEqual([]);
    expect(resumed.plan!.key.action).toBe('keep-existing');
    const result = await applyEnrollment(apduTarget(card.session), resumed.inspection, resumed.plan!, options({ algorithm: keyAlgorithmByName('ECCP256')!, secrets: { pin: NEW_PIN } }));
    expect(result.fingerprint).toBe(first.fingerprint);
  });

  test('a slot left with the PKCS#11 backend\'s placeholder certificate counts as half-done, not as enrolled', async () => {
    const card = await openTestCard();
    const first = await enroll(card, options({ algorithm: keyAlgorithmByName('ECCP256')! }));
    const placeholder = await buildCertificate(
      {
        serialNumber: Uint8Array.from([1]),
        subject: [{ type: 'CN', value: PLACEHOLDER_SUBJECT.slice(3) }],
        issuer: [{ type: 'CN', value: PLACEHOLDER_SUBJECT.slice(3) }],
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 86_400_000),
        subjectPublicKeyInfo: spkiDer(first.publicKey),
        extensions: [],
        signatureAlgorithm: { kind: 'ecdsa', hash: 'sha256' },
      },
      async () => Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]),
    );
    await card.session.authenticate(await readProtectedManagementKeyWithPin(card, NEW_PIN));
    await card.session.putCertificate(0x9c, placeholder);
    const resumed = await plan(card, options({ algorithm: keyAlgorithmByName('ECCP256')!, secrets: { pin: NEW_PIN } }));
    expect(resumed.inspection.slot.certificateSubject).toBe(PLACEHOLDER_SUBJECT);
    expect(resumed.inspection.slot.certificateMatchesKey).toBe(false);
    expect(resumed.plan!.key.action).toBe('keep-existing');
  });

  test('a card that returns bad signatures stops the enrollment with the reason, before a certificate is written', async () => {
    const card = await openTestCard({ faults: ['corrupt-signature'] });
    const opts = options({ algorithm: keyAlgorithmByName('ECCP256')! });
    const { plan: p, inspection } = await plan(card, opts);
    const failure = applyEnrollment(apduTarget(card.session), inspection, p!, opts);
    await expect(failure).rejects.toBeInstanceOf(EnrollmentError);
    await expect(failure).rejects.toThrow(/invalid signature[\s\S]*Server refused public-key signature despite accepting key/);
    await expect(card.session.getCertificate(0x9c)).rejects.toThrow(/not found/);
  });

  test('missing inputs are all listed at once', async () => {
    const card = await openTestCard();
    await enroll(card, options({ algorithm: keyAlgorithmByName('ECCP256')! }));
    const bare = options({ algorithm: keyAlgorithmByName('ED25519')!, backupKey: '/tmp/x', force: true });
    bare.secrets = {};
    const result = await plan(card, bare);
    expect(result.errors).toEqual([]);
    expect(result.missing).toEqual(['pin', 'backup-passphrase']);
    const fresh = await openTestCard();
    const none = options({ backupKey: '/tmp/backup.pem' });
    none.secrets = {};
    expect((await plan(fresh, none)).missing).toEqual(['new-pin', 'new-puk', 'backup-passphrase']);
  });

  test('capabilities: Ed25519 on 5.4.3, RSA generation on ROCA firmware, X25519 anywhere are refused in the plan', async () => {
    const card = await openTestCard({ firmware: '5.4.3' });
    expect((await plan(card, options({ algorithm: keyAlgorithmByName('ED25519')! }))).errors[0]).toMatch(/firmware 5\.4\.3\) has no Ed25519/);
    const roca = await openTestCard({ firmware: '4.3.4' });
    expect((await plan(roca, options({ keySource: { kind: 'card' } }))).errors).toContainEqual(expect.stringMatching(/ROCA/));
    expect((await plan(card, options({ algorithm: keyAlgorithmByName('X25519')! }))).errors).toContainEqual(expect.stringMatching(/X25519 keys cannot sign/));
  });

  test('4.3.7 card (no metadata, TDES): finds the default management key by trying it, replaces it, leaves PIN and PUK alone with a warning', async () => {
    const card = await openTestCard({ firmware: '4.3.7' });
    const opts = options({ algorithm: keyAlgorithmByName('ECCP256')!, secrets: { pin: '123456' } });
    const { plan: p, errors, inspection } = await plan(card, opts);
    expect(errors).toEqual([]);
    expect(p!.warnings).toContainEqual(expect.stringMatching(/cannot tell whether PIN and PUK/));
    expect(p!.hardening.newManagementKey?.name).toBe('TDES');
    const result = await applyEnrollment(apduTarget(card.session), inspection, p!, opts);
    expect(result.verification.every((c) => c.valid)).toBe(true);
    expect(result.hardened).toEqual({ pin: false, puk: false, managementKey: 'TDES' });
  });

  test('--backup-key writes an encrypted PKCS#8 file, mode 0600, and never overwrites one', async () => {
    const card = await openTestCard();
    const backup = join(mkdtempSync(join(tmpdir(), 'piv-enroll-backup-')), 'key.pem');
    const result = await enroll(card, options({ backupKey: backup, secrets: { keyPassphrase: 'a long passphrase' } }));
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect(readFileSync(backup, 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expect(result.files).toContain(backup);
    const again = await openTestCard();
    await expect(enroll(again, options({ backupKey: backup, secrets: { keyPassphrase: 'a long passphrase' } }))).rejects.toThrow(/exists/);
  });
});
