/**
 * The card-life commands on a terminal (a scripted person, in process): secrets are asked (the new PIN twice, a weak
 * or mismatched one asked again), the plan is confirmed before the card changes, and a "no" leaves the card
 * byte-identical. Reset and retire ask with "no" as the default answer.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CardLifeEnvironment } from '../../src/cli/card-life-report.js';
import { runPinChange, runPinUnblock } from '../../src/cli/commands/pin.js';
import { runReset } from '../../src/cli/commands/reset.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { PivSession } from '../../src/piv/session.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { captured, scriptedPrompter } from '../support/terminal.js';



const terminal = (prompter: Prompter): CardLifeEnvironment => ({ env: {}, prompter, interactive: true });

/** A factory-fresh virtual card in a new file (its state written by a first session). */
async function freshCard(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-card-life-prompts-')), 'card.json');
  const { transport } = await openVirtualCard({ file });
  await (await PivSession.open(transport)).getSerial();
  await transport.close();
  return file;
}

async function verifies(file: string, pin: string): Promise<boolean> {
  const { transport } = await openVirtualCard({ file });
  try {
    await (await PivSession.open(transport)).verifyPin(pin);
    return true;
  } catch {
    return false;
  } finally {
    await transport.close();
  }
}

describe('card-life commands on a terminal', () => {
  test('pin change asks the current PIN, the new one twice (a factory default and a mismatch asked again), then confirms', async () => {
    const file = await freshCard();
    const prompter = scriptedPrompter(['123456', '12345678', '24681357', '24681358', '24681357', '24681357', true]);
    const output = captured();
    expect(await runPinChange({ virtual: file, inventory: 'none' }, output, terminal(prompter))).toBe(0);
    expect(prompter.asked).toEqual([
      'Current PIN:', 'New PIN:', '(said) that is the factory default; try again.', 'New PIN:', 'New PIN again:', '(said) The two PINs differ; try again.',
      'New PIN:', 'New PIN again:', 'Change the PIN?',
    ]);
    expect(output.out.join('\n')).toMatch(/PIN changed\./);
    expect(await verifies(file, '24681357')).toBe(true);
  });

  test('a "no" to the plan leaves the card byte-identical (pin change, pin unblock, reset --force)', async () => {
    const file = await freshCard();
    const before = readFileSync(file);
    expect(await runPinChange({ virtual: file, inventory: 'none' }, captured(), terminal(scriptedPrompter(['123456', '24681357', '24681357', false])))).toBe(1);
    expect(await runPinUnblock({ virtual: file, inventory: 'none' }, captured(), terminal(scriptedPrompter(['12345678', '24681357', '24681357', false])))).toBe(1);
    const reset = scriptedPrompter([false]);
    const output = captured();
    expect(await runReset({ virtual: file, inventory: 'none', force: true }, output, terminal(reset))).toBe(1);
    expect(reset.asked).toEqual(["Erase the card's PIV application?"]);
    expect(output.err.join('\n')).toMatch(/the PIN and the PUK are blocked on purpose first \(--force\)/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
