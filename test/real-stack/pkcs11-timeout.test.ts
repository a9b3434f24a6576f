/**
 * The failure this guards against: an `enroll` with the default checks stopped for good inside OpenSC's
 * C_Initialize (a deadlock in sc_lock). Here a stand-in module that deadlocks in C_Initialize sits between
 * OpenSC and ykcs11 in --pkcs11: the enrollment finishes, its check through the stuck module fails with the
 * module and the call named, ykcs11 still checks after it, and piv-enroll exits by itself.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { buildStubModule, cCompiler } from '../support/stub-pkcs11-module.js';
import { CLI, OPENSC_PKCS11, YKCS11, run, scratchDir, serveCard, type ServedCard } from './bench.js';

const compiler = cCompiler();
/** Long enough for OpenSC to connect the virtual card (its APDUs take ~48 ms each behind vpcd). */
const BOUND_MS = 10_000;

describe.skipIf(!inject('benchReady') || !compiler)('a PKCS#11 module that never returns (stand-in deadlocked in C_Initialize)', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('enroll goes on past it, reports it by name and call, and exits', async () => {
    const stuck = buildStubModule(compiler!, 'C_Initialize');
    card = await serveCard();
    const dir = scratchDir();
    const started = Date.now();
    const enrolled = await run(
      process.execPath,
      [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--keep-default-credentials', '--pkcs11', `${OPENSC_PKCS11},${stuck},${YKCS11}`, '--out', join(dir, 'out'), '--yes', '--json'],
      { env: { PIV_ENROLL_PKCS11_TIMEOUT_MS: String(BOUND_MS) }, timeoutMs: 90_000 },
    );
    const elapsed = Date.now() - started;
    expect(enrolled.code, enrolled.stderr).toBe(1);
    const report = `${stuck}: C_Initialize did not return within ${BOUND_MS / 1000} s`;
    expect(enrolled.stderr).toContain(report);
    const checks: Array<{ module?: string; valid: boolean; legacy: boolean; error?: string }> = JSON.parse(enrolled.stdout).verification;
    expect(checks.filter((c) => c.module === stuck).every((c) => !c.valid && c.error === report)).toBe(true);
    for (const module of [OPENSC_PKCS11, YKCS11]) expect(checks.filter((c) => c.module === module && !c.legacy).every((c) => c.valid)).toBe(true);
    expect(checks.filter((c) => c.module === YKCS11).length).toBeGreaterThan(0);
    // One bound waited, not a hang: the rest is the enrollment itself.
    expect(elapsed).toBeLessThan(BOUND_MS + 60_000);
  });
});
