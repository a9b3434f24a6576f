import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { classifySshOutput, parseHostSpec, reclassifyRefusedAlgorithms } from '../../src/operations/doctor/host-check.js';
import { PivSession } from '../../src/piv/session.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { run } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';

async function enrolledCard(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-doctor-')), 'card.json');
  const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'gofish543', '--yes'], { env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' } });
  expect(enrolled.code, enrolled.stderr).toBe(0);
  return file;
}

async function doctor(file: string, extra: string[] = [], pin = PIN) {
  const result = await run(process.execPath, [CLI, 'doctor', '--virtual', file, '--json', ...extra], { env: { PIV_PIN: pin } });
  return { code: result.code, stderr: result.stderr, report: result.stdout ? JSON.parse(result.stdout) : undefined };
}

const ids = (report: { findings: Array<{ id: string; severity: string }> }, severity: string) => report.findings.filter((f) => f.severity === severity).map((f) => f.id);

describe('piv-enroll doctor on the virtual card', () => {
  test('a healthy enrolled card reports all green, exit 0', async () => {
    const { code, report } = await doctor(await enrolledCard());
    expect(code).toBe(0);
    expect(report.status).toBe('ok');
    expect(ids(report, 'problem')).toEqual([]);
    expect(report.signatures.map((c: { algorithm: string; valid: boolean }) => `${c.algorithm}:${c.valid}`)).toEqual(['rsa-sha2-256:true', 'rsa-sha2-512:true', 'ssh-rsa:true']);
  });

  test('a card returning bad signatures, and a certificate holding another key, are named; exit 1', async () => {
    const file = await enrolledCard();
    const { code, report } = await doctor(file, ['--fault', 'corrupt-signature', '--fault', 'wrong-certificate']);
    expect(code).toBe(1);
    expect(ids(report, 'problem')).toEqual(['certificate-key-mismatch', 'card-invalid-signatures']);
    expect(report.findings.find((f: { id: string }) => f.id === 'card-invalid-signatures').summary).toMatch(/the card returns invalid signatures/);
  });

  test('factory-default credentials and a missing CHUID are reported', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-doctor-')), 'card.json');
    const session = await PivSession.open((await openVirtualCard({ file })).transport);
    await session.authenticate(fromHex('010203040506070801020304050607080102030405060708'));
    await session.generateKey(0x9c, keyAlgorithmByName('ECCP256')!);
    const { code, report } = await doctor(file, [], '123456');
    expect(code).toBe(1);
    expect(ids(report, 'problem')).toEqual(['certificate-missing', 'default-credentials']);
    expect(ids(report, 'warning')).toEqual(['chuid-missing']);
    expect(report.findings.find((f: { id: string }) => f.id === 'default-credentials').summary).toMatch(/PIN, PUK, management key/);
  });

  test('the doctor could not run: wrong PIN (tries left shown), no PIN, bad --host: exit 2', async () => {
    const file = await enrolledCard();
    const wrong = await doctor(file, [], '11111111');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong PIN, 2 attempts left/);
    const none = await run(process.execPath, [CLI, 'doctor', '--virtual', file], { env: { PIV_PIN: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs the PIN/);
    const badHost = await doctor(file, ['--host', 'a@b@c']);
    expect(badHost.code).toBe(2);
  });

  test('ssh -v output is classified as the failures users meet', () => {
    const accepted = 'debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2\ndebug1: kex_input_ext_info: server-sig-algs=<ssh-ed25519,rsa-sha2-512,rsa-sha2-256>\ndebug1: Server accepts key: /usr/lib/opensc-pkcs11.so RSA SHA256:x token\nroot@127.0.0.1: Permission denied (publickey).';
    expect(classifySshOutput(accepted, 255)).toMatchObject({ outcome: 'signature-refused', serverVersion: 'OpenSSH_9.2p1', serverSignatureAlgorithms: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'] });
    expect(classifySshOutput('debug1: Offering public key: x\ndebug1: send_pubkey_test: no mutual signature algorithm\nroot@h: Permission denied (publickey).', 255).outcome).toBe('no-common-algorithm');
    expect(classifySshOutput('debug1: Offering public key: x\nroot@h: Permission denied (publickey).', 255).outcome).toBe('key-not-authorized');
    const sha1Refused = 'debug1: kex_input_ext_info: server-sig-algs=<ssh-ed25519,rsa-sha2-512,rsa-sha2-256>\ndebug1: Offering public key: x\nroot@h: Permission denied (publickey).';
    expect(classifySshOutput(sha1Refused, 255, 'ssh-rsa').outcome).toBe('no-common-algorithm');
    expect(classifySshOutput(sha1Refused, 255, 'rsa-sha2-256').outcome).toBe('key-not-authorized');
    expect(classifySshOutput('ssh: connect to host h port 22: Connection refused', 255).outcome).toBe('unreachable');
    expect(classifySshOutput('Host key verification failed.', 255).outcome).toBe('host-key-problem');
    expect(classifySshOutput('debug1: Authenticated to h ([127.0.0.1]:22) using "publickey".', 0).outcome).toBe('ok');
    expect(
      reclassifyRefusedAlgorithms([
        { algorithm: 'rsa-sha2-256', outcome: 'ok' },
        { algorithm: 'ssh-rsa', outcome: 'key-not-authorized' },
      ]).map((c) => c.outcome),
    ).toEqual(['ok', 'no-common-algorithm']);
    expect(reclassifyRefusedAlgorithms([{ algorithm: 'ssh-rsa', outcome: 'key-not-authorized' }])[0]!.outcome).toBe('key-not-authorized');
    expect(parseHostSpec('ana@host.example:2222')).toEqual({ user: 'ana', host: 'host.example', port: 2222 });
    expect(() => parseHostSpec('host:99999')).toThrow(/\[user@\]host\[:port\]/);
  });
});

describe('certificate logins are judged by the certificate, not the plain key after it', () => {
  test('classifyCertificateLogin', async () => {
    const { classifyCertificateLogin } = await import('../../src/operations/doctor/host-check.js');
    const certAccepted = 'debug1: Server accepts key: /c RSA-CERT SHA256:x explicit\n';
    expect(classifyCertificateLogin(`${certAccepted}debug1: Authenticated to h ([127.0.0.1]:22) using "publickey".`, 0).outcome).toBe('ok');
    expect(classifyCertificateLogin('debug1: Server accepts key: token RSA SHA256:x\ndebug1: Authenticated to h ([127.0.0.1]:22) using "publickey".', 0).outcome).toBe('certificate-refused');
    expect(classifyCertificateLogin('debug1: Offering public key: /c RSA-CERT\nroot@h: Permission denied (publickey).', 255).outcome).toBe('certificate-refused');
    expect(classifyCertificateLogin(`${certAccepted}root@h: Permission denied (publickey).`, 255).outcome).toBe('signature-refused');
  });
});

describe('certificate expiry', () => {
  test('expired and soon-expiring certificates are reported', async () => {
    const { examineCard } = await import('../../src/operations/doctor/doctor.js');
    const file = await enrolledCard();
    const check = async (now: Date) => {
      const { transport } = await openVirtualCard({ file });
      const session = await PivSession.open(transport);
      const examination = await examineCard(session, { slot: 0x9c, pin: PIN, modules: [], sshOptions: [], now });
      return (await examination.finish(undefined)).findings.map((f) => `${f.id}:${f.severity}`);
    };
    const day = 86_400_000;
    expect(await check(new Date(Date.now() + 400 * day))).toContain('certificate-expired:problem');
    expect(await check(new Date(Date.now() + 350 * day))).toContain('certificate-expiring:warning');
    const today = await check(new Date());
    expect(today.filter((f) => f.startsWith('certificate-expir'))).toEqual([]);
  });
});
