import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PivSession } from '../../src/piv/session.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const CTRL_C = '\u0003';

/**
 * The wizard on a pseudo-terminal (util-linux `script`, as runOnTerminal): each step waits for a prompt, then types
 * its answer (with Enter) or, as a person would, a Ctrl-C. On a terminal Ctrl-C is a keypress while a prompt reads
 * raw input, and a SIGINT from the terminal otherwise: both are what is tested here.
 */
function wizard(args: string[], steps: Array<{ prompt: RegExp; type: string }>, timeoutMs = 100_000): Promise<{ code: number | null; screen: string }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    // A window size, as a terminal has: in script's bare pty (0 columns) listr2 would draw a character a line.
    const child = spawn('script', ['-qec', `stty cols 120 rows 40; exec ${quoted}`, '/dev/null'], { detached: true, env: { ...process.env, CI: 'false' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let consumed = 0;
    const pending = [...steps];
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const next = pending[0];
      if (next && next.prompt.test(screen.slice(consumed))) {
        consumed = screen.length;
        pending.shift();
        child.stdin.write(next.type === CTRL_C ? CTRL_C : `${next.type}\r`);
      }
    });
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`timed out on a terminal\n${screen}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

const ANSWERS = [
  { prompt: /Who is this card for/, type: 'ana' },
  { prompt: /Let the owner type their own PIN\?/, type: 'y' },
  { prompt: /New PIN:/, type: '24681357' },
  { prompt: /New PIN again:/, type: '24681357' },
  { prompt: /New PUK:/, type: '97531864' },
  { prompt: /New PUK again:/, type: '97531864' },
  { prompt: /Enroll the card as planned\?/, type: 'y' },
];

async function freshCard(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-cancel-')), 'card.json');
  await openVirtualCard({ file }); // created now, so its bytes can be compared afterwards
  return file;
}

function expectNoTrace(screen: string): void {
  expect(screen).not.toMatch(/internal error|ExitPromptError|\n\s+at /);
}

describe('Ctrl-C in the wizard on a real terminal', () => {
  test.each([
    ['the user name', 0],
    ['the new PIN', 1],
    ['the repeated PIN', 2],
    ['the new PUK', 3],
    ['the confirmation', 5],
  ])('at %s: cancelled, nothing was changed on the card (its file byte for byte), exit 130, no trace', async (_, at) => {
    const file = await freshCard();
    const before = readFileSync(file);
    const steps = [...ANSWERS.slice(0, at), { prompt: ANSWERS[at]!.prompt, type: CTRL_C }];
    const { code, screen } = await wizard(['enroll', '--virtual', file, '--algorithm', 'ECCP256', '--pkcs11', 'none'], steps);
    expect(code, screen).toBe(130);
    expect(screen).toContain('piv-enroll: cancelled: nothing was changed on the card');
    expectNoTrace(screen);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test('during the card write (an RSA-4096 key made on the card): Ctrl-C twice is refused, the write finishes, then cancelled with what was done, 130', async () => {
    const file = await freshCard();
    const steps = [...ANSWERS, { prompt: /Credentials/, type: CTRL_C }, { prompt: /./, type: CTRL_C }];
    const { code, screen } = await wizard(['enroll', '--virtual', file, '--algorithm', 'RSA4096', '--key-source', 'card', '--pkcs11', 'none'], steps, 180_000);
    expect(code, screen).toBe(130);
    expect(screen).toContain('a card write is in progress: wait for it to finish');
    expect(screen).toMatch(/piv-enroll: cancelled: the card is enrolled \(virtual card .*, slot 9C: RSA4096, SHA256:\S+\): credentials, key, certificate and CHUID, export and signature checks done; not done/);
    expect(screen).not.toMatch(/Enrolled virtual card/); // the summary after the write was not reached
    expectNoTrace(screen);
    // The write was whole: the new PIN works and the slot holds the RSA-4096 key with its certificate.
    const session = await PivSession.open((await openVirtualCard({ file })).transport);
    await session.verifyPin('24681357');
    expect((await session.getPukMetadata()).isDefault).toBe(false);
    expect((await session.getSlotMetadata(0x9c)).algorithm.name).toBe('RSA4096');
  }, 200_000);
});
