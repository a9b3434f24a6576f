import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PivSession } from '../../src/piv/session.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { runOnTerminal } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;

describe('the wizard on a real terminal (inquirer prompts in a pseudo-terminal)', () => {
  test('a bare piv-enroll asks who the card is for, a new PIN and PUK twice each, shows the plan and enrolls on yes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-tty-')), 'card.json');
    const result = await runOnTerminal(process.execPath, [CLI, 'enroll', '--virtual', file, '--algorithm', 'ECCP256'], [
      { prompt: /Who is this card for/, answer: 'ana' },
      { prompt: /Let the owner type their own PIN\?/, answer: 'y' },
      { prompt: /New PIN:/, answer: '24681357' },
      { prompt: /New PIN again:/, answer: '24681357' },
      { prompt: /New PUK:/, answer: '97531864' },
      { prompt: /New PUK again:/, answer: '97531864' },
      { prompt: /Enroll the card as planned\?/, answer: 'y' },
    ], { env: { CI: 'false' } }); // under CI=true piv-enroll never asks, even on a terminal
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/Replace the factory-default PIN/);
    expect(result.stdout).toMatch(/Enrolled virtual card .* slot 9C: ECCP256/);
    expect(result.stdout).not.toContain('24681357'); // hidden input: masked, never echoed
    const session = await PivSession.open((await openVirtualCard({ file })).transport);
    await session.verifyPin('24681357');
    expect((await session.getPukMetadata()).isDefault).toBe(false);
  });
});
