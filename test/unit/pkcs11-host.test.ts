/**
 * PKCS#11 modules run in a host process under a time bound (src/operations/pkcs11-host.ts), tested with a
 * stand-in module compiled here: one that works (handles and data cross the process boundary intact), and
 * ones that never return from a call (abandoned with a typed error naming the module and the call; the tool
 * goes on and exits on its own).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, test } from 'vitest';
import { digest } from '../../src/crypto/pkcs1.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { Pkcs11Error } from '../../src/operations/pkcs11-modules.js';
import { pkcs11Timeouts, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_KEY_GENERATION_TIMEOUT_MS } from '../../src/operations/pkcs11-host.js';
import { Pkcs11TimeoutError, Pkcs11Token } from '../../src/operations/pkcs11-token.js';
import { readCertificateThroughPkcs11 } from '../../src/operations/pkcs11-verify.js';
import { buildStubModule, cCompiler, STUB_OBJECT_VALUE, STUB_PIN, STUB_SLOT_DESCRIPTION } from '../support/stub-pkcs11-module.js';
import { run } from '../support/run.js';

const compiler = cCompiler();
const pkcs11jsBuilt = (() => {
  try {
    createRequire(import.meta.url)('pkcs11js');
    return true;
  } catch {
    return false;
  }
})();
const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const BUILT_CLI = new URL('../../dist/operations/pkcs11-host.js', import.meta.url).pathname;

/** Short enough for a test, long enough for node to start the host on a busy two-core machine. */
const BOUND_MS = 1500;
const timeouts = { callMs: BOUND_MS, keyGenerationMs: BOUND_MS };

describe.skipIf(!compiler || !pkcs11jsBuilt)('PKCS#11 modules in a host process, under a time bound (stand-in module)', () => {
  const modules: Record<string, { name: string; path: string }> = {};
  beforeAll(() => {
    for (const hang of ['ok', 'C_Initialize', 'C_Login', 'C_Sign']) {
      modules[hang] = { name: `stub-${hang}`, path: buildStubModule(compiler!, hang === 'ok' ? undefined : hang) };
    }
    modules.crash = { name: 'stub-crash', path: buildStubModule(compiler!, undefined, 'C_Sign') };
    modules.race = { name: 'stub-race', path: buildStubModule(compiler!, undefined, undefined, 2) };
    modules.raceForEver = { name: 'stub-race-for-ever', path: buildStubModule(compiler!, undefined, undefined, 1000) };
  });

  test('a slot list refused because a card came or went between the count and the list (CKR_BUFFER_TOO_SMALL) is asked again', async () => {
    // Seen in a 4-reader batch: a card swapped into another reader while one card's checks opened OpenSC.
    const token = await Pkcs11Token.open(modules.race!, 'Stub Reader', timeouts);
    try {
      expect((await token.info()).reader).toBe(STUB_SLOT_DESCRIPTION);
    } finally {
      await token.close();
    }
    // Cards that never stop changing: a bounded number of tries, then a typed error naming the module and the code.
    const refused = await Pkcs11Token.open(modules.raceForEver!, 'Stub Reader', timeouts).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(Pkcs11Error);
    expect((refused as Error).message).toMatch(/stub-race-for-ever could not list its cards: CKR_BUFFER_TOO_SMALL/);
  });

  test('handles and data cross the boundary byte for byte; the module sees its own handles back', async () => {
    const token = await Pkcs11Token.open(modules.ok!, 'Stub Reader', timeouts);
    try {
      const info = await token.info();
      expect(info).toMatchObject({ reader: STUB_SLOT_DESCRIPTION, label: 'stub token', serial: 12345678 });
      // The stub answers CKR_SESSION_HANDLE_INVALID to any other session handle than the one it gave.
      expect(token.session).toEqual(Buffer.from('0807060504030201', 'hex'));
      const object = await token.findSlotObject(token.lib.CKO_CERTIFICATE, 0x9a);
      expect(object).toEqual(Buffer.from('8877665544332211', 'hex'));
      expect(await token.attribute(object!, token.lib.CKA_VALUE)).toEqual(STUB_OBJECT_VALUE);
      const message = Buffer.from('challenge');
      const signature = await token.sign(0x9a, keyAlgorithmByName('ECCP256')!, message, 'sha256', STUB_PIN);
      expect(Buffer.from(signature)).toEqual(Buffer.from(digest('sha256', message)).reverse());
    } finally {
      await token.close();
    }
    expect(Buffer.from(await readCertificateThroughPkcs11(modules.ok!, 0x9a))).toEqual(STUB_OBJECT_VALUE);
  });

  test('a module refusing the PIN is a module error, not a timeout, and the PIN is not in it', async () => {
    const token = await Pkcs11Token.open(modules.ok!, undefined, timeouts);
    try {
      const error = await token.login('user', '864209').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Pkcs11Error);
      expect(error).not.toBeInstanceOf(Pkcs11TimeoutError);
      expect((error as Error).message).toMatch(/wrong PIN/);
      expect((error as Error).message).not.toContain('864209');
    } finally {
      await token.close();
    }
  });

  test('C_Initialize that never returns: a typed error naming the module and the call within the bound; then the next module opens', async () => {
    const started = Date.now();
    const error = await Pkcs11Token.open(modules.C_Initialize!, undefined, timeouts).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(Pkcs11TimeoutError);
    expect((error as Error).message).toBe(`stub-C_Initialize: C_Initialize did not return within ${BOUND_MS / 1000} s`);
    // The load (and the host's start) has its own bound before C_Initialize's.
    expect(elapsed).toBeGreaterThanOrEqual(BOUND_MS);
    expect(elapsed).toBeLessThan(2 * BOUND_MS + 2000);
    const token = await Pkcs11Token.open(modules.ok!, undefined, timeouts);
    expect((await token.info()).label).toBe('stub token');
    await token.close();
  });

  test('C_Login that never returns: the error names C_Login and never the PIN; the token is abandoned, and closes without a call', async () => {
    const pin = '731904';
    const token = await Pkcs11Token.open(modules.C_Login!, undefined, timeouts);
    const error = await token.login('user', pin).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Pkcs11TimeoutError);
    expect((error as Error).message).toBe(`stub-C_Login: C_Login did not return within ${BOUND_MS / 1000} s`);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as Error).stack)).not.toContain(pin);
    // Every later call fails at once with the same error instead of waiting again.
    const started = Date.now();
    await expect(token.info()).rejects.toThrow(Pkcs11TimeoutError);
    expect(Date.now() - started).toBeLessThan(500);
    await token.close();
  });

  test('C_Sign that never returns inside a signature check: the check fails with the timeout, nothing throws', async () => {
    const { verifyThroughPkcs11 } = await import('../../src/operations/pkcs11-verify.js');
    const { generateKeyPairSync } = await import('node:crypto');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.env.PIV_ENROLL_PKCS11_TIMEOUT_MS = String(BOUND_MS);
    try {
      const checks = await verifyThroughPkcs11({ module: modules.C_Sign!, reader: 'Stub', slot: 0x9a, algorithm: keyAlgorithmByName('ECCP256')!, publicKey, pin: STUB_PIN, random: (n) => new Uint8Array(n) });
      expect(checks.length).toBeGreaterThan(0);
      for (const check of checks) expect(check).toMatchObject({ valid: false, error: `stub-C_Sign: C_Sign did not return within ${BOUND_MS / 1000} s` });
    } finally {
      delete process.env.PIV_ENROLL_PKCS11_TIMEOUT_MS;
    }
  });

  test('a module that crashes takes only the host with it: a typed error naming the module and the call, then the next module opens', async () => {
    const token = await Pkcs11Token.open(modules.crash!, undefined, timeouts);
    const error = await token.sign(0x9a, keyAlgorithmByName('ECCP256')!, Buffer.from('x'), 'sha256', STUB_PIN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect((error as Error).message).toBe("stub-crash: the module's process ended during C_Sign (SIGSEGV)");
    await token.close();
    const next = await Pkcs11Token.open(modules.ok!, undefined, timeouts);
    expect((await next.info()).label).toBe('stub token');
    await next.close();
  });

  test.skipIf(!existsSync(BUILT_CLI))('the CLI abandons a module stuck in C_Initialize and exits on its own, with the report', async () => {
    const started = Date.now();
    const result = await run(CLI, ['export', '--via', 'pkcs11', '--module', modules.C_Initialize!.path, '--slot', '9a'], { env: { PIV_ENROLL_PKCS11_TIMEOUT_MS: String(BOUND_MS) }, timeoutMs: 30_000 });
    // `run` waits for stdout and stderr to close: a host process left behind would hold stderr open.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toContain(`${modules.C_Initialize!.path}: C_Initialize did not return within ${BOUND_MS / 1000} s`);
  });
});

describe('PKCS#11 time bounds', () => {
  test('generous defaults; the environment sets the per-call bound, key generation keeps its longer one', () => {
    expect(pkcs11Timeouts({})).toEqual({ callMs: DEFAULT_CALL_TIMEOUT_MS, keyGenerationMs: DEFAULT_KEY_GENERATION_TIMEOUT_MS });
    expect(pkcs11Timeouts({ PIV_ENROLL_PKCS11_TIMEOUT_MS: '2000' })).toEqual({ callMs: 2000, keyGenerationMs: DEFAULT_KEY_GENERATION_TIMEOUT_MS });
    expect(pkcs11Timeouts({ PIV_ENROLL_PKCS11_TIMEOUT_MS: '900000' })).toEqual({ callMs: 900_000, keyGenerationMs: 900_000 });
    expect(() => pkcs11Timeouts({ PIV_ENROLL_PKCS11_TIMEOUT_MS: '30s' })).toThrow(/whole number of milliseconds/);
  });
});
