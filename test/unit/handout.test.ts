/**
 * The printable handout: rendered to PDF, read back with poppler's pdftotext page by page, rendered to PNG at 100 dpi
 * with pdftoppm (what a printer gets), written with the right mode, never over an existing file.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { handoutFileName, HandoutFileError, planHandoutFile, writeHandout } from '../../src/operations/handout/handout-file.js';
import { MODULE_PATHS } from '../../src/operations/handout/login-instructions.js';
import { renderHandout, unprintableCharacters, type HandoutData } from '../../src/operations/handout/render-handout.js';
import { runOk } from '../support/run.js';

const scratch = await mkdtemp(join(tmpdir(), 'piv-handout-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const data: HandoutData = {
  person: 'Łukasz Żółć',
  serial: 31415926,
  slot: '9C',
  algorithm: 'RSA2048',
  fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
  hosts: ['lukasz@build.example.com:2222', 'db1.example.com'],
  caCertificate: 'piv-9c-cert.pub',
  helpdesk: 'IT desk, room 2.14',
  createdAt: new Date('2025-03-01T09:00:00Z'),
};
const PIN = '73914260';

let counter = 0;
async function pdfFile(bytes: Uint8Array): Promise<string> {
  const file = join(scratch, `handout-${++counter}.pdf`);
  await writeFile(file, bytes);
  return file;
}

/** The text of one page, as pdftotext reads it (whitespace folded: the layout breaks lines). */
async function pageText(file: string, page: number): Promise<string> {
  const { stdout } = await runOk('pdftotext', ['-f', String(page), '-l', String(page), '-layout', file, '-']);
  return stdout.replace(/\s+/g, ' ').replace(/(\w)- (\w)/g, '$1-$2'); // a line broken after a hyphen
}

async function pages(file: string): Promise<number> {
  const { stdout } = await runOk('pdfinfo', [file]);
  return Number(/^Pages:\s+(\d+)/m.exec(stdout)?.[1]);
}

describe('the handout PDF', () => {
  test('page 1 has the person, serial, fingerprint, every module path, PuTTY-CAC and the blocked-PIN help; without a PIN it is one page', async () => {
    const file = await pdfFile(await renderHandout(data));
    expect(await pages(file)).toBe(1);
    const text = await pageText(file, 1);
    for (const expected of [
      'Łukasz Żółć', '31415926', data.fingerprint, 'RSA2048 in PIV slot 9c', 'piv-9c-cert.pub', 'db1.example.com',
      MODULE_PATHS.debian, MODULE_PATHS.fedora, MODULE_PATHS.macOpenSc, MODULE_PATHS.macYkcs11Intel, MODULE_PATHS.macYkcs11Arm, MODULE_PATHS.windowsOpenSc,
      'PKCS11Provider', 'ssh -I', 'CertificateFile=~/.ssh/piv-9c-cert.pub', '-p 2222', 'lukasz@build.example.com',
      'PuTTY-CAC in PKCS#11 mode (not CAPI)', 'Server refused public-key signature despite accepting key!', 'SHA-1',
      'After 3 wrong PINs', 'PUK', 'piv-enroll pin unblock', 'IT desk, room 2.14',
    ]) {
      expect(text, expected).toContain(expected);
    }
    expect(text).not.toContain('Initial PIN');
  });

  test('the initial PIN is on page 2 alone, after the cut line; page 1 only says where it is', async () => {
    const file = await pdfFile(await renderHandout({ ...data, initialPin: PIN }));
    expect(await pages(file)).toBe(2);
    const first = await pageText(file, 1);
    expect(first).not.toContain(PIN);
    expect(first).toContain('separate sheet');
    expect(first).toContain('PIN blocked?'); // the instructions still fit on page 1
    const second = await pageText(file, 2);
    expect(second).toContain('cut or fold here');
    expect(second).toContain('Initial PIN for Łukasz Żółć');
    expect(second).toContain('31415926');
    expect(second.replace(/ /g, '')).toContain(PIN); // letter-spaced on the page
    expect(second).not.toContain(data.fingerprint);
    // The PIN is not in the document's metadata (pdfkit's file ID hashes the info dictionary).
    const { stdout: info } = await runOk('pdfinfo', [file]);
    expect(info).not.toContain(PIN);
  });

  test('the same data gives the same bytes (CreationDate from the injected clock); another date changes them', async () => {
    const one = await renderHandout({ ...data, initialPin: PIN });
    const two = await renderHandout({ ...data, initialPin: PIN });
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
    const later = await renderHandout({ ...data, initialPin: PIN, createdAt: new Date('2025-03-02T09:00:00Z') });
    expect(Buffer.from(later).equals(Buffer.from(one))).toBe(false);
    const { stdout } = await runOk('pdfinfo', ['-isodates', await pdfFile(one)]);
    expect(stdout).toMatch(/CreationDate:\s+2025-03-01T09:00:00/);
  });

  test('it renders to PNG pages at 100 dpi (A4: 827 × 1170 pixels), with ink on them', async () => {
    const file = await pdfFile(await renderHandout({ ...data, initialPin: PIN }));
    const prefix = join(scratch, 'page');
    await runOk('pdftoppm', ['-r', '100', '-png', file, prefix]);
    for (const page of [1, 2]) {
      const png = await readFile(`${prefix}-${page}.png`);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([827, 1170]);
      // A blank A4 page compresses to a few kilobytes; text, boxes and the PIN make it larger.
      expect(png.length).toBeGreaterThan(page === 1 ? 60_000 : 15_000);
    }
  });

  test('every word on both pages lies inside the 42 pt margins of A4 (pdftotext -bbox)', async () => {
    const file = await pdfFile(await renderHandout({ ...data, initialPin: PIN }));
    const { stdout } = await runOk('pdftotext', ['-bbox', file, '-']);
    const words = [...stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</g)].map((m) => ({ box: m.slice(1, 5).map(Number), word: m[5] }));
    expect(words.length).toBeGreaterThan(300);
    const outside = words.filter(({ box: [x0, y0, x1, y1] }) => x0! < 41.5 || y0! < 41.5 || x1! > 595.28 - 41.5 || y1! > 841.89 - 41.5);
    expect(outside).toEqual([]);
  });

  test('a virtual test card is marked as one; an Ed25519 key gets the OpenSSH 10.1 note; no hosts: a placeholder host', async () => {
    const file = await pdfFile(await renderHandout({ ...data, hosts: undefined, caCertificate: undefined, algorithm: 'ED25519', virtualCard: true }));
    const text = await pageText(file, 1);
    expect(text).toContain('VIRTUAL TEST CARD');
    expect(text).toContain('OpenSSH 10.1');
    expect(text).toContain('you@server.example.com');
    expect(text).not.toContain('CertificateFile');
  });
});

describe('characters the font cannot draw', () => {
  test('Latin, Greek and Cyrillic names print; CJK and emoji are reported, and pdftotext finds the ones that print', async () => {
    expect(unprintableCharacters(data)).toEqual([]);
    expect(unprintableCharacters({ ...data, person: 'Ζωή Ιβανова-Łódź' })).toEqual([]);
    expect(unprintableCharacters({ ...data, person: '李 Wang', helpdesk: 'call 📞 4242' })).toEqual(['李', '📞']);
    const text = await pageText(await pdfFile(await renderHandout({ ...data, person: 'Ζωή Ιβανова-Łódź' })), 1);
    expect(text).toContain('Ζωή Ιβανова-Łódź');
  });
});

describe('the handout file', () => {
  test('file names keep letters, digits, dot, dash and underscore', () => {
    expect(handoutFileName('Łukasz Żółć', 31415926)).toBe('Lukasz_Zolc-31415926.pdf');
    expect(handoutFileName('../../etc/passwd', 1)).toBe('etc_passwd-1.pdf');
    expect(handoutFileName('李', undefined)).toBe('person-no-serial.pdf');
  });

  test('with a PIN the file is 0600, without one 0644; a directory it creates is 0700', async () => {
    const dir = join(scratch, 'out', 'handouts');
    const withPin = await writeHandout(await planHandoutFile(dir, 'ana', 1), { ...data, person: 'ana', initialPin: PIN });
    expect(withPin).toEqual({ path: join(dir, 'ana-1.pdf'), mode: 0o600, withPin: true, unprintable: [] });
    expect((await stat(withPin.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const without = await writeHandout(await planHandoutFile(dir, 'bo', 2), { ...data, person: 'bo' });
    expect((await stat(without.path)).mode & 0o777).toBe(0o644);
    expect(without.withPin).toBe(false);
  });

  test('an existing handout is refused while planning, and at write time if it appeared since; it is left as it was', async () => {
    const dir = join(scratch, 'existing');
    const target = await planHandoutFile(dir, 'cy', 3);
    await writeHandout(target, { ...data, person: 'cy' });
    const before = await readFile(target.path);
    await expect(planHandoutFile(dir, 'cy', 3)).rejects.toThrow(HandoutFileError);
    await expect(planHandoutFile(dir, 'cy', 3)).rejects.toThrow(/exists already/);
    await expect(writeHandout(target, { ...data, person: 'cy', initialPin: PIN })).rejects.toThrow(/appeared while enrolling/);
    expect((await readFile(target.path)).equals(before)).toBe(true);
    await writeFile(join(scratch, 'a-file'), '');
    await expect(planHandoutFile(join(scratch, 'a-file'), 'cy', 3)).rejects.toThrow(/not a directory/);
  });
});
