/**
 * The workflow this project replaces, step by step, against the virtual card behind pcscd and a real sshd:
 *   1 ssh-keygen -f gofish                          2 ssh-keygen -f gofish.pub -e -m pem
 *   3 ykman piv keys import 9c gofish               4 ykman piv certificates generate 9c gofish.pem -s gofish543
 *   5 ssh-keygen -D opensc-pkcs11.so -e             6 the key into authorized_keys
 *   7 ssh -I opensc-pkcs11.so … with PubkeyAcceptedAlgorithms rsa-sha2-256, then rsa-sha2-512.
 * Today's ssh-keygen (OpenSSH 9.2) writes a 3072-bit key in OpenSSH format, which Debian 12's ykman 4.0.9
 * cannot import; the key the original workflow used was what ssh-keygen wrote then: RSA 2048, PEM.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { DEFAULT_MANAGEMENT_KEY_HEX, OPENSC_PKCS11, READER, run, runOk, runOnTerminal, scratchDir, serveCard, type ServedCard } from './bench.js';
import { loginWithCard, startSshd, stopAll, type TestSshd } from './sshd.js';

const MK = `${DEFAULT_MANAGEMENT_KEY_HEX}\n`;

describe.skipIf(!inject('benchReady'))('the original seven steps, then an SSH login with the card', () => {
  let card: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    [card, sshd] = [undefined, undefined];
  });

  test('steps 1–7, and sshd accepts the card for rsa-sha2-256 and rsa-sha2-512', async () => {
    card = await serveCard();
    const dir = scratchDir();
    const gofish = join(dir, 'gofish');

    // Step 1, verbatim: ssh-keygen asks for a passphrase twice (empty here).
    const keygen = await runOnTerminal('ssh-keygen', ['-f', gofish], [
      { prompt: /Enter passphrase/, answer: '' },
      { prompt: /Enter same passphrase again/, answer: '' },
    ]);
    expect(keygen.code, keygen.stdout).toBe(0);
    expect(readFileSync(gofish, 'utf8')).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    // Step 3 with today's key: ykman 4.0.9 cannot read the OpenSSH format (it asks for a password).
    const modern = await run('ykman', ['--reader', READER, 'piv', 'keys', 'import', '9c', gofish], { input: MK + '\n' });
    expect(modern.code).not.toBe(0);

    // The key of the original workflow: what `ssh-keygen -f gofish` wrote before OpenSSH 7.8/8.0.
    await runOk('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', gofish], { input: 'y\n' });
    expect(readFileSync(gofish, 'utf8')).toMatch(/BEGIN RSA PRIVATE KEY/);

    // Step 2.
    const pem = await runOk('ssh-keygen', ['-f', `${gofish}.pub`, '-e', '-m', 'pem']);
    expect(pem.stdout).toMatch(/BEGIN RSA PUBLIC KEY/);
    writeFileSync(join(dir, 'gofish.pem'), pem.stdout);
    // Step 3.
    await runOk('ykman', ['--reader', READER, 'piv', 'keys', 'import', '9c', gofish], { input: MK });
    // Step 4: the card signs its own certificate (management key, then PIN).
    await runOk('ykman', ['--reader', READER, 'piv', 'certificates', 'generate', '9c', join(dir, 'gofish.pem'), '-s', 'gofish543'], { input: `${MK}123456\n` });
    // Step 5: OpenSC shows the key only now that 9C holds a certificate.
    const exported = await runOk('ssh-keygen', ['-D', OPENSC_PKCS11, '-e']);
    const ourKey = readFileSync(`${gofish}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const line = exported.stdout.split('\n').find((l) => l.startsWith(ourKey));
    expect(line, exported.stdout).toBeDefined();

    for (const algorithm of ['rsa-sha2-256', 'rsa-sha2-512']) {
      sshd = await startSshd({ pubkeyAcceptedAlgorithms: algorithm });
      // Step 6.
      writeFileSync(sshd.authorizedKeys, `${line}\n`, { mode: 0o600 });
      // Step 7: the PIN comes from an askpass program, once for the login and once for 9C's PIN-always policy.
      const login = await loginWithCard(sshd, algorithm, '123456', 'logged-in-with-the-card');
      expect(login.code, `${login.stderr}\n--- sshd ---\n${sshd.log()}`).toBe(0);
      expect(login.stdout).toMatch(/logged-in-with-the-card/);
      expect(sshd.log()).toMatch(new RegExp(`Accepted publickey for ${sshd.user} .* ssh2: RSA SHA256:`));
      expect(sshd.log()).toMatch(new RegExp(`userauth_pubkey: .*pkalg ${algorithm}`));
      await sshd.stop();
      sshd = undefined;
    }
  });
});
