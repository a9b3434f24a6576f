/**
 * Which readers a PKCS#11 module may reach while it checks one card (src/operations/pkcs11-isolation.ts): OpenSC is
 * kept to its reader by an opensc.conf of our own (the user's file plus an ignored_readers block); when that cannot be
 * done safely, or for any other module, the token reaches every reader and runs alone.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readerReach } from '../../src/operations/pkcs11-isolation.js';

const OPENSC = { name: 'opensc', path: '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so' };
const YKCS11 = { name: 'ykcs11', path: '/usr/lib/x86_64-linux-gnu/libykcs11.so' };
const A = 'Yubico YubiKey OTP+FIDO+CCID 00 00';
const B = 'Yubico YubiKey OTP+FIDO+CCID 00 01';
const C = 'Yubico YubiKey FIDO+CCID 00 00';

function userConfiguration(text: string): NodeJS.ProcessEnv {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-opensc-test-')), 'opensc.conf');
  writeFileSync(file, text);
  return { OPENSC_CONF: file };
}

describe('readerReach', () => {
  test('OpenSC with other readers: the user configuration, unchanged, plus a block ignoring exactly the others (file mode 0600)', () => {
    const user = 'app default {\n\t# debug = 3;\n}\n';
    const reach = readerReach(OPENSC, A, [A, B, C], userConfiguration(user));
    expect(reach.kind).toBe('one-reader');
    const file = reach.kind === 'one-reader' ? reach.environment.OPENSC_CONF! : '';
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(user)).toBe(true);
    expect(text).toMatch(/app opensc-pkcs11 \{\n\tignored_readers = "Yubico YubiKey OTP\+FIDO\+CCID 00 01", "Yubico YubiKey FIDO\+CCID 00 00";\n\}/);
    expect(text.split('\n').find((line) => line.includes('ignored_readers'))).not.toContain(A);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('alone on the bench: nothing to ignore, no file', () => {
    expect(readerReach(OPENSC, A, [A], userConfiguration(''))).toEqual({ kind: 'one-reader', environment: {} });
  });

  test.each([
    ['another module (ykcs11 connects to every reader)', YKCS11, A, [A, B], ''],
    ['no reader named', OPENSC, undefined, [A, B], ''],
    ['a reader PC/SC does not list (a filter, not a name)', OPENSC, 'Yubico', [A, B], ''],
    ['another reader whose name is inside ours (ignored_readers matches substrings)', OPENSC, 'Reader 10', ['Reader 10', 'Reader 1'], ''],
    ['a configuration with its own opensc-pkcs11 block', OPENSC, A, [A, B], 'app opensc-pkcs11 { }\n'],
    ['a configuration with its own ignored_readers', OPENSC, A, [A, B], 'app default { ignored_readers = "X"; }\n'],
    ['a reader name with a quote', OPENSC, A, [A, 'Bad "reader"'], ''],
  ])('every reader: %s', (_why, module, reader, readers, user) => {
    expect(readerReach(module, reader, readers, userConfiguration(user))).toEqual({ kind: 'every-reader' });
  });
});
