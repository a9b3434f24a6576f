/** `piv-enroll request`: PKCS#10 requests signed by the virtual card, checked with openssl. */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runRequest } from '../../src/cli/commands/request.js';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { readCertificationRequest } from '../../src/crypto/pkcs10.js';
import { spkiDer } from '../../src/crypto/keys.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { PIN_POLICY } from '../../src/standards/policies.js';
import { openssl, opensslVerifiesRequest } from '../support/openssl.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-request-'));

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

const noPrompter: Prompter = {
  input: async () => { throw new Error('no prompt expected'); },
  password: async () => { throw new Error('no prompt expected'); },
  confirm: async () => { throw new Error('no prompt expected'); },
  say: () => undefined,
};

/** A virtual card file whose slot holds a key: generated on the card, or imported. */
async function cardFile(name: string, make: 'generate' | 'import', algorithm = 'ECCP256', options: { pinPolicy?: number; newPin?: string } = {}): Promise<{ file: string; attestation?: Uint8Array }> {
  const file = join(dir, `${name}.json`);
  const card = await openTestCard({ file, serial: 41000000 + Math.floor(Math.random() * 1000000), deps: { now: () => Date.now() } });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  const alg = keyAlgorithmByName(algorithm)!;
  let attestation: Uint8Array | undefined;
  if (make === 'generate') {
    await card.session.generateKey(0x9c, alg, { pinPolicy: options.pinPolicy });
    attestation = await card.session.attest(0x9c);
  } else {
    const pair = alg.kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: alg.bits }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await card.session.importKey(0x9c, pair.privateKey, { pinPolicy: options.pinPolicy });
  }
  if (options.newPin) await card.session.changePin(DEFAULT_PIN, options.newPin);
  await card.virtual.close();
  return { file, attestation };
}

describe('piv-enroll request', () => {
  test('--attest: openssl req -verify accepts it; the extensions carry the attestation and the f9 certificate', async () => {
    const { file, attestation } = await cardFile('attested', 'generate');
    const out = join(dir, 'attested.csr');
    const output = captured();
    expect(await run(['request', '--virtual', file, '--subject', 'CN=gofish543,O=Example', '--attest', '--out', out], output)).toBe(0);
    expect(output.out.join('\n')).toMatch(/Wrote .*attested\.csr: CN=gofish543,O=Example, ECCP256 key of slot 9c .*with its attestation/);
    expect(opensslVerifiesRequest(out)).toBe(true);
    const text = openssl(['req', '-in', out, '-noout', '-text']);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.41482\.3\.1:/);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.41482\.3\.2:/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    const der = Buffer.from(readFileSync(out, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const read = readCertificationRequest(der);
    // The extension values are the certificates' DER themselves (yubico-piv-tool's request_certificate): the slot's
    // attestation (a fresh one: each ATTEST signs anew), signed by the f9 certificate, naming the request's key.
    const attested = new X509Certificate(read.extensions.get('1.3.6.1.4.1.41482.3.1')!);
    expect(Buffer.from(attested.raw)).toEqual(Buffer.from(read.extensions.get('1.3.6.1.4.1.41482.3.1')!));
    const intermediate = new X509Certificate(read.extensions.get('1.3.6.1.4.1.41482.3.2')!);
    expect(attested.verify(intermediate.publicKey)).toBe(true);
    expect(attested.subject).toBe(new X509Certificate(attestation!).subject);
    expect(Buffer.from(read.subjectPublicKeyInfo)).toEqual(Buffer.from(spkiDer(attested.publicKey)));
  });

  test('RSA-2048 imported key, SHA-512, PIN from the environment, PEM on stdout', async () => {
    const { file } = await cardFile('rsa', 'import', 'RSA2048', { newPin: '271828' });
    const output = captured();
    const env = { env: { PIV_PIN: '271828' }, interactive: false, prompter: noPrompter };
    expect(await runRequest({ virtual: file, slot: '9c', user: 'alice', hash: 'SHA512' }, output, env)).toBe(0);
    const pem = output.out.join('\n') + '\n';
    const csr = join(dir, 'rsa.csr');
    (await import('node:fs')).writeFileSync(csr, pem);
    expect(opensslVerifiesRequest(csr)).toBe(true);
    const text = openssl(['req', '-in', csr, '-noout', '-text']);
    expect(text).toMatch(/Signature Algorithm: sha512WithRSAEncryption/);
    expect(text).toMatch(/Subject: CN = alice/);
    expect(output.err.join('\n')).toMatch(/certificate import --slot 9c FILE/);
  });

  test('Ed25519 (firmware 5.7) is signed over the request itself', async () => {
    const { file } = await cardFile('ed25519', 'generate', 'ED25519');
    const out = join(dir, 'ed25519.csr');
    expect(await run(['request', '--virtual', file, '--user', 'bob', '--out', out, '--json'], captured())).toBe(0);
    expect(opensslVerifiesRequest(out)).toBe(true);
    expect(openssl(['req', '-in', out, '-noout', '-text'])).toMatch(/ED25519/);
  });

  test('a hardened card without the PIN and no terminal: missing PIN, exit 2, nothing asked', async () => {
    const { file } = await cardFile('nopin', 'generate', 'ECCP256', { newPin: '271828' });
    const output = captured();
    await expect(runRequest({ virtual: file, slot: '9c', user: 'alice' }, output, { env: {}, interactive: false, prompter: noPrompter })).rejects.toThrow(/missing: the PIN/);
  });

  test('PIN policy NEVER: no PIN is needed even on a hardened card', async () => {
    const { file } = await cardFile('never', 'generate', 'ECCP256', { pinPolicy: PIN_POLICY.NEVER, newPin: '271828' });
    const out = join(dir, 'never.csr');
    expect(await runRequest({ virtual: file, slot: '9c', user: 'alice', out }, captured(), { env: {}, interactive: false, prompter: noPrompter })).toBe(0);
    expect(opensslVerifiesRequest(out)).toBe(true);
  });

  test('SHA-1 is refused (exit 2) before the card is opened', async () => {
    const output = captured();
    expect(await run(['request', '--virtual', join(dir, 'never-made.json'), '--user', 'alice', '--hash', 'SHA1'], output)).toBe(2);
    expect(output.err.join('\n')).toMatch(/SHA1 is refused/);
  });

  test('--attest on an imported key, and an empty slot, are refused with the reason (exit 1)', async () => {
    const { file } = await cardFile('imported', 'import');
    const output = captured();
    expect(await run(['request', '--virtual', file, '--user', 'alice', '--attest'], output)).toBe(1);
    expect(output.err.join('\n')).toMatch(/imported key: only a key generated on the card has an attestation/);
    const empty = captured();
    expect(await run(['request', '--virtual', file, '--slot', '9a', '--user', 'alice'], empty)).toBe(1);
    expect(empty.err.join('\n')).toMatch(/slot 9A holds no key/);
  });
});
