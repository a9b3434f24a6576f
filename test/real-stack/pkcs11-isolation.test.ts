/**
 * OpenSC kept to the reader it checks (src/operations/pkcs11-isolation.ts): while one card is enrolled and checked
 * through OpenSC, the card in another reader gets not a single APDU. Without the generated opensc.conf, OpenSC's
 * C_Initialize SELECTs every card (21 APDUs each on this bench), which let a batch's readers reset each other's
 * PIN-always logins and so made their PKCS#11 checks take turns.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, READER, SECOND_READER, run, scratchDir, serveCard, type ServedCard } from './bench.js';

const apdus = (card: ServedCard): number => (card.log().match(/^> /gm) ?? []).length;

describe.skipIf(!inject('benchReady'))('a PKCS#11 check through OpenSC touches only its own reader', () => {
  const cards: ServedCard[] = [];
  afterEach(async () => {
    for (const card of cards.splice(0)) await card.stop();
  });

  test('enroll in one reader, OpenSC check: the card in the other reader gets no APDU', async () => {
    const enrolled = await serveCard({ verbose: true });
    const bystander = await serveCard({ port: 35966, verbose: true });
    cards.push(enrolled, bystander);
    const before = apdus(bystander);
    const dir = scratchDir();
    const result = await run(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'ana', '--keep-default-credentials', '--pkcs11', 'opensc', '--inventory', 'none', '--out', join(dir, 'out'), '--yes', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const checks: Array<{ module?: string; valid: boolean }> = JSON.parse(result.stdout).verification;
    expect(checks.filter((c) => c.module === 'opensc').map((c) => c.valid)).toEqual([true, true, true]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the trace reaches us through a pipe
    expect(apdus(enrolled)).toBeGreaterThan(20);
    expect(apdus(bystander) - before, `${SECOND_READER}'s card was touched:\n${bystander.log()}`).toBe(0);
  });
});
