/**
 * Runs one piece of work at a time, in order: a transport holds the card exclusively, so transactions in one
 * process queue behind each other instead of interleaving APDUs. A failed piece does not stop the queue.
 */
export class TransactionQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
