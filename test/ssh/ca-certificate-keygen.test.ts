/**
 * Known answers from OpenSSH itself: ssh-keygen -s makes a certificate with a random nonce; the same fields
 * (nonce included) and the same CA key run through piv-enroll's encoder must give the same bytes. Ed25519 and
 * RSA PKCS#1 v1.5 signatures are deterministic, so the whole certificate must match byte for byte; ECDSA's are
 * not, so there the signed bytes must match and both signatures verify.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readPrivateKeyFile } from '../../src/operations/key-file.js';
import { softwareCertificateSigner, verifySshSignature } from '../../src/operations/ca/ca-signature.js';
import { certificateToBeSigned, encodeCertificate, parseCertificate } from '../../src/operations/ca/certificate.js';
import { parseOpenSshLine, publicKeyBlob, publicKeyFromBlob } from '../../src/operations/ca/key-blob.js';
import { runOk } from '../support/run.js';
import { caScratch, removeCaScratch, userKey } from './support/ca-sshd.js';

afterEach(() => removeCaScratch());

async function keygenCertificate(caType: 'ed25519' | 'rsa' | 'ecdsa'): Promise<{ caFile: string; certificate: Uint8Array }> {
  const work = caScratch();
  const caFile = await userKey(work, 'ca', caType);
  const user = await userKey(work, 'user', 'ed25519');
  await runOk('ssh-keygen', [
    '-q', '-s', caFile, '-I', 'alice@example', '-n', 'alice,root', '-z', '4242', '-V', '+52w',
    ...(caType === 'rsa' ? ['-t', 'rsa-sha2-512'] : []),
    '-O', 'force-command=/usr/bin/backup --all', '-O', 'source-address=10.0.0.0/8,192.168.1.5/32',
    '-O', 'extension:login@example.com=alice', '-O', 'extension:flag@example.com',
    `${user}.pub`,
  ]);
  return { caFile, certificate: parseOpenSshLine(readFileSync(join(work, 'user-cert.pub'), 'utf8'), 'ssh-keygen certificate').blob };
}

describe('certificates byte for byte against ssh-keygen -s (OpenSSH 9.2)', () => {
  test.each(['ed25519', 'rsa'] as const)('%s CA: the same fields and nonce give the same certificate', async (caType) => {
    const { caFile, certificate } = await keygenCertificate(caType);
    const fromKeygen = parseCertificate(certificate);
    expect(fromKeygen.extensions.map((e) => e.name)).toEqual(['flag@example.com', 'login@example.com', 'permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc']);
    const caKey = await readPrivateKeyFile(caFile);
    const ours = await encodeCertificate(
      {
        nonce: fromKeygen.nonce,
        publicKeyBlob: fromKeygen.publicKeyBlob,
        serial: fromKeygen.serial,
        kind: 'user',
        keyId: 'alice@example',
        principals: ['alice', 'root'],
        validAfter: fromKeygen.validAfter,
        validBefore: fromKeygen.validBefore,
        // Given unsorted: the encoder sorts as ssh-keygen does.
        criticalOptions: [{ name: 'source-address', value: '10.0.0.0/8,192.168.1.5/32' }, { name: 'force-command', value: '/usr/bin/backup --all' }],
        extensions: [
          { name: 'permit-user-rc' }, { name: 'permit-pty' }, { name: 'permit-port-forwarding' }, { name: 'permit-agent-forwarding' }, { name: 'permit-X11-forwarding' },
          { name: 'login@example.com', value: 'alice' }, { name: 'flag@example.com' },
        ],
      },
      publicKeyBlob(caKey),
      softwareCertificateSigner(caKey),
    );
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(certificate).toString('hex'));
  });

  test('ecdsa CA: the same signed bytes, and each signature verifies', async () => {
    const { caFile, certificate } = await keygenCertificate('ecdsa');
    const fromKeygen = parseCertificate(certificate);
    const caKey = await readPrivateKeyFile(caFile);
    expect(fromKeygen.caPublicKeyBlob).toEqual(publicKeyBlob(caKey));
    const ours = parseCertificate(await encodeCertificate({ ...fromKeygen, criticalOptions: [...fromKeygen.criticalOptions].reverse() }, fromKeygen.caPublicKeyBlob, softwareCertificateSigner(caKey)));
    expect(ours.signedData).toEqual(certificateToBeSigned(fromKeygen, fromKeygen.caPublicKeyBlob));
    expect(ours.signedData).toEqual(fromKeygen.signedData);
    const caPublic = publicKeyFromBlob(fromKeygen.caPublicKeyBlob);
    expect(verifySshSignature(caPublic, fromKeygen.signedData, fromKeygen.signatureAlgorithm, fromKeygen.signature)).toBe(true);
    expect(verifySshSignature(caPublic, ours.signedData, ours.signatureAlgorithm, ours.signature)).toBe(true);
  });
});
