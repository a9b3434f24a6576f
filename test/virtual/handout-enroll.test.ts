/**
 * enroll --handout DIR on the in-process virtual card: the handout is written after the enrollment, named in the
 * notices and the JSON (path only), holds what the card got; an existing handout refuses the enrollment while
 * planning with the card byte-identical; a generated initial PIN (the operation's input) goes on page 2, mode 0600.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runEnroll, type EnrollEnvironment } from '../../src/cli/commands/enroll.js';
import type { Output } from '../../src/cli/output.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { enrollCard } from '../../src/operations/enroll/enroll-card.js';
import { buildEnrollOptions } from '../../src/operations/enroll/enroll-inputs.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { PivSession } from '../../src/piv/session.js';
import { runOk } from '../support/run.js';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'piv-handout-enroll-'));
const NEW_PIN = '24681357';
const NEW_PUK = '97531864';
const noPrompter: Prompter = {
  input: async (m) => { throw new Error(`asked: ${m}`); },
  password: async (m) => { throw new Error(`asked: ${m}`); },
  confirm: async (m) => { throw new Error(`asked: ${m}`); },
  say: () => undefined,
};
const environment = (env: NodeJS.ProcessEnv): EnrollEnvironment => ({ env, interactive: false, prompter: noPrompter });

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

async function pdfText(file: string, page?: number): Promise<string> {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return (await runOk('pdftotext', [...range, file, '-'])).stdout.replace(/\s+/g, ' ');
}

describe('enroll --handout', () => {
  test('writes DIR/<person>-<serial>.pdf (0644: no PIN on it), says where on stderr and in --json, and never prints the PIN the person chose', async () => {
    const dir = scratch();
    const output = captured();
    const code = await runEnroll(
      { virtual: join(dir, 'card.json'), user: 'ana', algorithm: 'ECCP256', handout: join(dir, 'handouts'), helpdesk: 'desk 4, ext. 555', yes: true, json: true, inventory: 'none' },
      output,
      environment({ PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: NEW_PUK }),
    );
    expect(code, output.err.join('\n')).toBe(0);
    const json = JSON.parse(output.out.join('\n'));
    const path = join(dir, 'handouts', `ana-${json.serial}.pdf`);
    expect(json.handout).toEqual({ path, withPin: false });
    expect(output.err.join('\n')).toContain(`Handout for ana: ${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    const text = await pdfText(path);
    for (const expected of ['ana', String(json.serial), json.fingerprint, 'ECCP256 in PIV slot 9c', 'VIRTUAL TEST CARD', 'desk 4, ext. 555', 'PuTTY-CAC']) expect(text, expected).toContain(expected);
    expect(text).not.toContain(NEW_PIN); // the person chose it: it is not the handout's to print
    expect(await runOk('pdfinfo', [path]).then((r) => r.stdout)).toMatch(/Pages:\s+1\n/);
  });

  test('an existing handout refuses the enrollment while planning: exit 1, the reason named, the card byte-identical', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const handouts = join(dir, 'handouts');
    const env = { PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: NEW_PUK };
    const first = captured();
    expect(await runEnroll({ virtual: card, user: 'ana', algorithm: 'ECCP256', handout: handouts, yes: true, json: true, inventory: 'none' }, first, environment(env))).toBe(0);
    const { path } = JSON.parse(first.out.join('\n')).handout;
    const handoutBefore = readFileSync(path);
    const cardBefore = readFileSync(card);
    // Everything else would do: --force replaces the key, the PIN is the card's.
    const again = runEnroll({ virtual: card, user: 'ana', algorithm: 'ECCP256', handout: handouts, force: true, yes: true, inventory: 'none' }, captured(), environment({ PIV_PIN: NEW_PIN }));
    await expect(again).rejects.toThrow(/the handout .*ana-\d+\.pdf exists already/);
    await again.catch((error: { exitCode: number }) => expect(error.exitCode).toBe(1));
    expect(readFileSync(card).equals(cardBefore)).toBe(true);
    expect(readFileSync(path).equals(handoutBefore)).toBe(true);
  });

  test('a name the font cannot draw is said so, with the characters', async () => {
    const dir = scratch();
    const output = captured();
    expect(await runEnroll({ virtual: join(dir, 'card.json'), user: '李 Wang', algorithm: 'ECCP256', handout: join(dir, 'h'), yes: true, inventory: 'none' }, output, environment({ PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: NEW_PUK }))).toBe(0);
    expect(output.err.join('\n')).toContain("The handout's font cannot draw 李: those show as empty boxes on it");
  });

  test('the wizard with --handout: the name it asked for is on the handout, the PIN typed there is not', async () => {
    const dir = scratch();
    // name; own PIN (yes) twice; PUK twice; enroll as planned (yes). An unexpected question fails the test instead of looping.
    const answers: Array<string | boolean> = ['grace', true, NEW_PIN, NEW_PIN, NEW_PUK, NEW_PUK, true];
    const next = (question: string) => {
      if (answers.length === 0) throw new Error(`unexpected question: ${question}`);
      return answers.shift()!;
    };
    const prompter: Prompter = {
      input: async (q) => String(next(q)),
      password: async (q) => String(next(q)),
      confirm: async (q) => Boolean(next(q)),
      say: () => undefined,
    };
    const output = captured();
    expect(await runEnroll({ virtual: join(dir, 'card.json'), algorithm: 'ECCP256', handout: join(dir, 'h'), inventory: 'none' }, output, { env: {}, interactive: true, prompter })).toBe(0);
    expect(answers).toEqual([]);
    const path = /Handout: (\S+\.pdf)/.exec(output.out.join('\n'))![1]!;
    expect(path).toMatch(/grace-\d+\.pdf$/);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    const text = await pdfText(path);
    expect(text).toContain('grace');
    expect(text).not.toContain(NEW_PIN);
    expect(text).not.toContain(NEW_PUK);
  });

  test('--helpdesk without --handout is a usage error', async () => {
    await expect(runEnroll({ virtual: join(scratch(), 'card.json'), user: 'ana', helpdesk: 'x', yes: true }, captured(), environment({}))).rejects.toThrow(/--helpdesk only applies with --handout/);
  });

  test('a PIN piv-enroll generated (the operation\'s initialPin) goes on page 2 only, and the file is 0600', async () => {
    const dir = scratch();
    const generated = '58203917';
    const built = await buildEnrollOptions({ card: { virtual: join(dir, 'card.json') }, user: 'Zoë Ōtani', algorithm: 'ECCP256', secrets: { newPin: generated, newPuk: NEW_PUK } });
    expect(built.problems).toEqual([]);
    const notices: string[] = [];
    const outcome = await enrollCard(
      { options: built.options!, pkcs11Modules: [], inventory: 'none', handout: { dir: join(dir, 'handouts'), initialPin: generated }, dependencies: { now: () => new Date('2025-04-01T08:00:00Z') } },
      { notice: (t) => notices.push(t) },
    );
    expect(outcome.status).toBe('enrolled');
    if (outcome.status !== 'enrolled') return;
    const handout = outcome.enrollment.handout!;
    expect(handout.path).toBe(join(dir, 'handouts', `Zoe_Otani-${outcome.enrollment.serial}.pdf`));
    expect(handout.withPin).toBe(true);
    expect(statSync(handout.path).mode & 0o777).toBe(0o600);
    expect(notices.join('\n')).toContain('(mode 0600: it holds the initial PIN)');
    expect(notices.join('\n')).not.toContain(generated);
    expect(await pdfText(handout.path, 1)).not.toContain(generated);
    const second = await pdfText(handout.path, 2);
    expect(second).toContain('Initial PIN for Zoë Ōtani');
    expect(second.replace(/ /g, '')).toContain(generated);
    expect(await pdfText(handout.path, 1)).toContain('2025-04-01'); // the injected clock
  });

  test('a directory that is a file is refused before the card is touched', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    writeFileSync(join(dir, 'not-a-dir'), '');
    await openVirtualCard({ file: card }); // a new card, saved
    const before = readFileSync(card);
    const run = runEnroll({ virtual: card, user: 'ana', algorithm: 'ECCP256', handout: join(dir, 'not-a-dir'), yes: true, inventory: 'none' }, captured(), environment({ PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: NEW_PUK }));
    await expect(run).rejects.toThrow(/is not a directory/);
    expect(readFileSync(card).equals(before)).toBe(true);
  });

  test('enroll --random-pin --handout: the generated PIN reaches the person on page 2 of the handout (0600), nowhere else, and opens the card', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const output = captured();
    const code = await runEnroll(
      { virtual: card, user: 'ana', algorithm: 'ECCP256', randomPin: true, handout: join(dir, 'handouts'), yes: true, json: true, inventory: 'none' },
      output,
      environment({ PIV_NEW_PUK: NEW_PUK }),
    );
    expect(code, output.err.join('\n')).toBe(0);
    const { path, withPin } = JSON.parse(output.out.join('\n')).handout;
    expect(withPin).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const pin = /\b(\d{6})\b/.exec((await pdfText(path, 2)).replace(new RegExp(NEW_PUK, 'g'), ''))?.[1];
    expect(pin, 'a six-digit PIN on page 2').toBeDefined();
    expect(await pdfText(path, 1)).not.toContain(pin!);
    expect([...output.out, ...output.err].join('\n')).not.toContain(pin!);
    const piv = await PivSession.open((await openVirtualCard({ file: card })).transport);
    await piv.verifyPin(pin!); // a wrong one throws WrongPinError
  });

  test('a generated PIN only the handout would carry is not lost when the enrollment fails after the card took it', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const handouts = join(dir, 'handouts');
    const output = captured();
    // no-space: the certificate does not fit, after the new PIN is set: the enrollment stops, no handout is written.
    await expect(runEnroll(
      { virtual: card, user: 'ana', algorithm: 'ECCP256', randomPin: true, handout: handouts, faults: ['no-space'], yes: true, inventory: 'none' },
      output,
      environment({ PIV_NEW_PUK: NEW_PUK }),
    )).rejects.toThrow();
    const notice = output.err.find((t) => t.includes('no handout carries'));
    expect(notice, output.err.join('\n')).toBeDefined();
    const path = /it is in (\S+) \(mode 0600\)/.exec(notice!)![1]!;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const pin = /PIN=(\d{6})/.exec(readFileSync(path, 'utf8'))![1]!;
    expect(output.err.join('\n')).not.toContain(pin);
    const piv = await PivSession.open((await openVirtualCard({ file: card })).transport);
    await piv.verifyPin(pin); // the card's PIN now
  });
});
