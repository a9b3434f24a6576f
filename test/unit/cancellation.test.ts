import { afterEach, describe, expect, test } from 'vitest';
import { Cancellation, CancelledError, CARD_WRITE_IN_PROGRESS, EXIT_CANCELLED } from '../../src/cli/cancellation.js';

/** A Cancellation on the real SIGINT of this process, its notices and exits recorded instead of ending the process. */
function onSigint(): { cancellation: Cancellation; notices: string[]; exits: Array<[string, number]> } {
  const notices: string[] = [];
  const exits: Array<[string, number]> = [];
  const cancellation = new Cancellation({ notice: (text) => notices.push(text), exit: (message, code) => exits.push([message, code]) });
  const listener = (): void => cancellation.interrupt();
  process.on('SIGINT', listener);
  detach.push(() => process.off('SIGINT', listener));
  return { cancellation, notices, exits };
}

const detach: Array<() => void> = [];
afterEach(() => detach.splice(0).forEach((off) => off()));

/** Sends this process a real SIGINT and lets its listeners run. */
async function pressCtrlC(): Promise<void> {
  const delivered = new Promise((resolve) => process.once('SIGINT', resolve));
  process.kill(process.pid, 'SIGINT');
  await delivered;
}

describe('Ctrl-C and the card-write guard', () => {
  test('outside a card write, Ctrl-C ends at once: cancelled, nothing was changed on the card, 130', async () => {
    const { exits } = onSigint();
    await pressCtrlC();
    expect(exits).toEqual([['cancelled: nothing was changed on the card', EXIT_CANCELLED]]);
  });

  test('Ctrl-C twice during a card write: both refused with a notice, the write finishes, then CancelledError says what it did', async () => {
    const { cancellation, notices, exits } = onSigint();
    const steps: string[] = [];
    const writing = cancellation.whileWritingCard(async () => {
      steps.push('pin changed');
      await pressCtrlC();
      await pressCtrlC();
      steps.push('key written');
      return 'slot 9C';
    }, (slot) => `the card is enrolled (${slot})`);
    const error = await writing.then(() => undefined, (e: unknown) => e);
    expect(steps).toEqual(['pin changed', 'key written']);
    expect(exits).toEqual([]);
    expect(notices).toEqual([CARD_WRITE_IN_PROGRESS, CARD_WRITE_IN_PROGRESS]);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).exitCode).toBe(130);
    expect((error as CancelledError).message).toBe('cancelled: the card is enrolled (slot 9C)');
    // After the write, a Ctrl-C ends at once and says what the write did.
    await pressCtrlC();
    expect(exits).toEqual([['cancelled: the card is enrolled (slot 9C)', 130]]);
  });

  test('a write that nobody interrupted returns its result', async () => {
    const { cancellation, notices } = onSigint();
    await expect(cancellation.whileWritingCard(async () => 42, () => 'done')).resolves.toBe(42);
    expect(notices).toEqual([]);
  });

  test('a command that stops by itself takes the first Ctrl-C; the second waits for the write under way', async () => {
    const { cancellation, notices, exits } = onSigint();
    let stops = 0;
    cancellation.onFirstInterrupt(() => stops++);
    cancellation.reportWith(() => 'enrolled: ana; not done: bo');
    const writing = cancellation.whileWritingCard(async () => {
      await pressCtrlC(); // first: the command stops starting new work; this write goes on
      expect(cancellation.interrupted).toBe(true);
      await pressCtrlC(); // second: deferred until the write is done
      return 'ana';
    }, (who) => `${who}'s card is enrolled`);
    await expect(writing).rejects.toThrow('cancelled: ana\'s card is enrolled; enrolled: ana; not done: bo');
    expect(stops).toBe(1);
    expect(notices).toEqual([CARD_WRITE_IN_PROGRESS]);
    expect(exits).toEqual([]);
  });
});
