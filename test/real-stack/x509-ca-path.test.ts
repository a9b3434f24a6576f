/**
 * The X.509 CA path through pcscd: `enroll --csr` on the card in a reader, an OpenSSL test CA signs the request,
 * `certificate import` writes it (PIN-protected management key), then ykman and OpenSC (ssh-keygen -D) see the
 * certificate and the key — the plain one, and a large one stored gzip-compressed.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { openssl, opensslVerifiesRequest } from '../support/openssl.js';
import { CLI, OPENSC_PKCS11, READER, readState, runOk, run, scratchDir, serveCard, type ServedCard } from './bench.js';

const NEW_PIN = '24681357';

describe.skipIf(!inject('benchReady'))('X.509 CA path behind pcscd', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  for (const large of [false, true]) {
    test(`enroll --csr, CA-signed, certificate import: ykman and ssh-keygen -D see it${large ? ' (large: stored compressed)' : ''}`, async () => {
      card = await serveCard();
      const dir = scratchDir();
      const env = { XDG_STATE_HOME: join(dir, 'state'), PIV_ENROLL_INVENTORY: 'none', PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: '97531864' };
      const enrolled = await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'alice', '--algorithm', 'ECCP256', '--key-source', 'card', '--csr', join(dir, 'req'), '--out', join(dir, 'out'), '--pkcs11', 'none', '--yes', '--json'], { env });
      expect(JSON.parse(enrolled.stdout)).toMatchObject({ certificate: null, request: { attested: true } });
      const csr = join(dir, 'req', 'piv-9c.csr');
      expect(opensslVerifiesRequest(csr)).toBe(true);
      expect(openssl(['req', '-in', csr, '-noout', '-text'])).toMatch(/1\.3\.6\.1\.4\.1\.41482\.3\.1:/);

      const caKey = join(dir, 'ca.key');
      const caCert = join(dir, 'ca.pem');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/CN=piv-enroll test CA', '-days', '2']);
      const issued = join(dir, 'alice.pem');
      const args = ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '4097', '-days', '30', '-out', issued];
      if (large) {
        writeFileSync(join(dir, 'san.ext'), `[v3]\nsubjectAltName=${Array.from({ length: 150 }, (_, i) => `DNS:host-${i}.servers.example.com`).join(',')}\n`);
        args.push('-extfile', join(dir, 'san.ext'), '-extensions', 'v3');
      }
      openssl(args);
      const der = new X509Certificate(readFileSync(issued)).raw;

      const imported = await runOk(process.execPath, [CLI, 'certificate', 'import', '--reader', READER, '--slot', '9c', issued, '--json'], { env: { ...env, PIV_PIN: NEW_PIN } });
      expect(JSON.parse(imported.stdout)).toMatchObject({ slot: '9c', compressed: large, issuer: 'CN=piv-enroll test CA' });
      // CertInfo (tag 71) 01 on the card when compressed, as ykman --compress writes it
      expect(readState(card.state).objects['5FC10A']).toMatch(large ? /710101FE00$/ : /7101 ?00FE00$/);

      const exported = await run('ykman', ['--reader', READER, 'piv', 'certificates', 'export', '9c', '-']);
      const ykmanMajor = Number(/version: (\d+)/.exec((await runOk('ykman', ['--version'])).stdout)?.[1] ?? 0);
      if (large && ykmanMajor < 5) {
        // Debian's ykman 4.0.x reads no compressed certificate object (ykman 5 does): it says so rather than misread it.
        expect(exported.stderr).toMatch(/Compressed certificates are not supported/);
      } else {
        expect(exported.code).toBe(0);
        expect(Buffer.from(new X509Certificate(exported.stdout).raw).equals(Buffer.from(der))).toBe(true);
        const info = await runOk('ykman', ['--reader', READER, 'piv', 'info']);
        expect(info.stdout).toMatch(/Subject DN:\s*CN=alice/);
      }

      const keygen = await run('ssh-keygen', ['-D', OPENSC_PKCS11, '-e'], { timeoutMs: 60_000 });
      expect(keygen.code).toBe(0);
      const authorized = readFileSync(join(dir, 'out', 'piv-9c.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      expect(keygen.stdout).toContain(authorized);
    });
  }
});
