import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { blobFingerprint, readPublicKeyLine, splitKeyLine } from '../../src/operations/deploy/key-line.js';

// Known answers: keys made with ssh-keygen, fingerprints as `ssh-keygen -l` printed them.
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2OCVRMh8RPHVZ2BzJUnSxOQqUobEeSLwVBYhX+IeY alice@laptop';
const ED25519_FP = 'SHA256:WacEq30Uo0oFQzgU8eMYoyFUH1D1T2BbxKRkWrq/1uY';
const RSA =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC3nN7ul2fbMwV+HMYbVA57uJGmnOKFcCN+//p8A8ZaEwTtCN7Nq2ef/nvVRFb1KD2FeP+LwWC2DsNqWZbNHF+lN5nPyGBaQQrkQ39/hHY6amlNmw3R0+dcziSbdkIiiS77gJ4U1JI8YQwH5yHI8WXkBLaTgGtltTc049likYKquQ== root@vm';
const RSA_FP = 'SHA256:T/gdlY845MegaG1IFDVumCXQ/fJY3qfUaAAau33c/zI';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCEyjbalCVwSM40yZBGC2XXti+qeUQnuBN5PQscfFw6Do9WPX0xZybPKHSwHcokz38J6PprfBhWB5aKdNpnaUFo= ec';
const ECDSA_FP = 'SHA256:kUYVS8fmPtjXPeJm70MRtwdHsOYvfDdQAdxzKRPvQsI';
const blobOf = (line: string) => line.split(' ')[1]!;

describe('authorized_keys lines', () => {
  it('splits plain lines into type, blob and comment (blanks inside the comment kept)', () => {
    expect(splitKeyLine(ED25519)).toEqual({ line: ED25519, type: 'ssh-ed25519', blob: blobOf(ED25519), comment: 'alice@laptop' });
    expect(splitKeyLine(`  ${blobOf(ED25519).padStart(0)}`)).toBeUndefined(); // a blob alone is no key line
    expect(splitKeyLine(`ssh-ed25519 ${blobOf(ED25519)}`)?.comment).toBeUndefined();
    expect(splitKeyLine(`ssh-ed25519\t${blobOf(ED25519)}  two  words\r`)).toMatchObject({ blob: blobOf(ED25519), comment: 'two words' });
  });

  it('skips options before the key, with blanks and escaped quotes inside double quotes', () => {
    const cases = [
      `no-pty ${ED25519}`,
      `restrict ${ED25519}`,
      `from="127.0.0.1",no-pty ${ED25519}`,
      `command="echo \\"hi there\\"",no-agent-forwarding ${ED25519}`,
      `environment="A=b c"\t${ED25519}`,
      `   cert-authority,principals="a b" ${ED25519}`,
    ];
    for (const line of cases) expect(splitKeyLine(line), line).toMatchObject({ type: 'ssh-ed25519', blob: blobOf(ED25519), comment: 'alice@laptop' });
    expect(splitKeyLine(`from="127.0.0.1",no-pty ${ED25519}`)?.options).toBe('from="127.0.0.1",no-pty');
  });

  it('finds no key in comments, blank lines and junk', () => {
    for (const line of ['', '   ', '# ssh-ed25519 ' + blobOf(ED25519), '#' + ED25519, 'garbage', 'no-pty', 'ssh-ed25519 short']) {
      expect(splitKeyLine(line), line).toBeUndefined();
    }
  });

  it('reads the one public key of a file, checks its blob, and fingerprints it as ssh-keygen -l does', () => {
    expect(readPublicKeyLine(`${ED25519}\n`, 'k.pub')).toMatchObject({ blob: blobOf(ED25519), fingerprint: ED25519_FP });
    expect(readPublicKeyLine(`# mine\n\n${RSA}\n`, 'k.pub').fingerprint).toBe(RSA_FP);
    expect(readPublicKeyLine(`no-pty ${ECDSA}`, 'k.pub')).toMatchObject({ line: `no-pty ${ECDSA}`, fingerprint: ECDSA_FP });
    expect(blobFingerprint(blobOf(RSA))).toBe(RSA_FP);
  });

  it('refuses files with no key, several keys, or a blob that is not the key it claims to be', () => {
    expect(() => readPublicKeyLine('# nothing\n', 'a.pub')).toThrow(/a.pub holds no public key/);
    expect(() => readPublicKeyLine(`${ED25519}\n${RSA}\n`, 'b.pub')).toThrow(/holds 2 lines; give one public key/);
    expect(() => readPublicKeyLine(`ssh-rsa ${blobOf(ED25519)} x`, 'c.pub')).toThrow(/says ssh-rsa but its blob holds ssh-ed25519/);
    expect(() => readPublicKeyLine('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2 x', 'd.pub')).toThrow(UsageError);
    expect(() => readPublicKeyLine('-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----', 'e.pem')).toThrow(UsageError);
  });
});
