/**
 * How many signatures the PKCS#11 checks cost the card: by default each module signs an RSA key once (rsa-sha2-512,
 * its padding built by the module as ssh -I has it built), standing for rsa-sha2-256 and ssh-rsa, which the card
 * could not tell apart; --sign-every-algorithm signs all three through each module. Counted in the card's own trace.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, run, scratchDir, serveCard, type ServedCard } from './bench.js';

/** The last (or only) link of each GENERAL AUTHENTICATE with the 9C key: one private-key operation each. */
function signaturesBy9c(log: string): number {
  return (log.match(/^> 0087079C/gm) ?? []).length;
}

interface Check { algorithm: string; module?: string; valid: boolean; sharedWith?: string }

describe.skipIf(!inject('benchReady'))('PKCS#11 checks: one signature per module unless asked for every algorithm', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    await card?.stop();
    card = undefined;
  });

  test.each([
    ['default', [], 1 + 1 + 1],
    ['--sign-every-algorithm', ['--sign-every-algorithm'], 1 + 3 + 3],
  ])('%s', async (_name, extra, expected) => {
    card = await serveCard({ verbose: true });
    const dir = scratchDir();
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'ana', '--keep-default-credentials', '--inventory', 'none', '--out', join(dir, 'out'), '--yes', '--json', ...extra]);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    // The certificate's signature, then the modules' (OpenSC and ykcs11).
    expect(signaturesBy9c(card.log())).toBe(expected);
    const checks: Check[] = JSON.parse(enrolled.stdout).verification;
    for (const module of ['opensc', 'ykcs11']) {
      const own = checks.filter((c) => c.module === module);
      expect(own.map((c) => c.algorithm).sort()).toEqual(['rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa']);
      expect(own.every((c) => c.valid)).toBe(true);
      const shared = own.filter((c) => c.sharedWith !== undefined).map((c) => `${c.algorithm}<${c.sharedWith}`).sort();
      expect(shared).toEqual(extra.length === 0 ? ['rsa-sha2-256<rsa-sha2-512', 'ssh-rsa<rsa-sha2-512'] : []);
    }
  });
});
