import { describe, expect, test } from 'vitest';
import { TransactionQueue } from '../../src/transport/transaction-queue.js';

describe('TransactionQueue', () => {
  test('runs work one at a time, in order, and goes on after a failure', async () => {
    const queue = new TransactionQueue();
    const events: string[] = [];
    const step = (name: string, ms: number, fail = false) => () =>
      new Promise<string>((resolve, reject) => {
        events.push(`start ${name}`);
        setTimeout(() => {
          events.push(`end ${name}`);
          if (fail) reject(new Error(name));
          else resolve(name);
        }, ms);
      });
    const results = await Promise.allSettled([queue.run(step('a', 20)), queue.run(step('b', 1, true)), queue.run(step('c', 1))]);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
