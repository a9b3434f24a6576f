/**
 * Every input is read and checked while planning: for each bad input `enroll` stops before the card changes, and the
 * virtual card's state file is byte for byte what it was. The card is factory-fresh and PIV_NEW_PIN/PIV_NEW_PUK are
 * given, so any write (the hardening comes first) would show.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { run, runOk } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const SECRETS = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

describe('enroll: a bad input leaves the card byte-identical', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-bad-'));
  const file = (name: string) => join(dir, name);
  const cards: Record<string, string> = { '5.7.2': file('card-57.json'), '4.3.7': file('card-43.json'), '4.3.4': file('card-434.json'), '4.2.7': file('card-427.json') };

  beforeAll(async () => {
    for (const [firmware, card] of Object.entries(cards)) await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--firmware', firmware]);
    writeFileSync(file('garbage.key'), 'this is not a key\n', { mode: 0o600 });
    const ed = generateKeyPairSync('ed25519');
    writeFileSync(file('ed25519.pem'), ed.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file('encrypted.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right passphrase' }), { mode: 0o600 });
    const x = generateKeyPairSync('x25519');
    writeFileSync(file('x25519.pem'), x.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  });

  const cases: Array<[string, string[], Record<string, string>?, string?]> = [
    ['a garbage key file', ['--import', 'garbage.key'], {}, 'is not a private key'],
    ['a key file that does not exist', ['--import', 'missing.key'], {}, 'cannot read the key file'],
    ['an encrypted key file with the wrong passphrase', ['--import', 'encrypted.pem'], { PIV_KEY_PASSPHRASE: 'not-the-one-7' }, 'wrong passphrase'],
    ['an encrypted key file and no passphrase', ['--import', 'encrypted.pem'], {}, 'the passphrase of the key to import'],
    ['a key file of another algorithm than --algorithm', ['--import', 'ed25519.pem', '--algorithm', 'RSA2048'], {}, 'holds an ED25519 key, not RSA2048'],
    ['an X25519 key file (cannot sign)', ['--import', 'x25519.pem'], {}, 'X25519'],
    ['--import and --key-source together', ['--import', 'ed25519.pem', '--key-source', 'card'], {}, 'give one'],
    ['a new PIN that is too short', [], { PIV_NEW_PIN: '123' }, 'the new PIN: a PIN or PUK is 6 to 8 characters'],
    ['the factory PUK as the new PUK', [], { PIV_NEW_PUK: '12345678' }, 'the new PUK: that is the factory default'],
    ['a bad slot', ['--slot', '9f'], {}, 'slot "9f" is not one of'],
    ['a bad PIN policy', ['--pin-policy', 'sometimes'], {}, 'pin-policy "sometimes" is not one of'],
    ['a bad validity', ['--valid-days', '0'], {}, 'valid-days "0" is not a whole number of days'],
    ['a bad subject', ['--subject', 'no equals sign'], {}, ''],
    ['a host spec starting with -', ['--deploy-to', '-oProxyCommand=touch /tmp/x'], {}, ''],
    ['a CA directory that does not exist', ['--ca', 'no-such-ca'], {}, ''],
    ['X25519 as the algorithm', ['--algorithm', 'X25519'], {}, ''],
    ['a cached touch policy on firmware 4.2.7', ['--touch-policy', 'cached'], { PIV_PIN: '123456' }, 'no cached touch policy', '4.2.7'],
    ['an RSA key generated on firmware 4.3.4 (ROCA)', ['--key-source', 'card'], {}, 'ROCA', '4.3.4'],
    ['Ed25519 on firmware 5.4 (needs 5.7)', ['--algorithm', 'ED25519'], {}, '', '4.3.7'],
    ['the PKCS#11 backend with a virtual card file', ['--backend', 'pkcs11'], {}, '--backend pkcs11 reaches cards through pcscd only'],
  ].map(([name, args, env, message, firmware]) => [name as string, [...(args as string[]), '--firmware-card', (firmware as string) ?? '5.7.2'], env as Record<string, string>, message as string]);

  test.each(cases)('%s', async (_name, argsWithCard, env, message) => {
    const firmware = argsWithCard.at(-1)!;
    const args = argsWithCard.slice(0, -2);
    const card = cards[firmware]!;
    const before = readFileSync(card);
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'ana', '--yes', '--out', file('out'), ...args], { cwd: dir, env: { ...SECRETS, ...env } });
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    if (message) expect(result.stderr).toContain(message);
    expect(readFileSync(card).equals(before), 'the card state file changed').toBe(true);
    for (const secret of Object.values({ ...SECRETS, ...env })) expect(result.stdout + result.stderr).not.toContain(secret);
  });
});
