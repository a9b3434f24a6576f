/**
 * Where the PIN (and PUK) piv-enroll generated for a card go, since nobody else knows them: a 0600 file
 * (`--pin-out`), or the terminal, once. Never stdout (that is --json's), never a log. The escrow keeps the PUK instead
 * when there is one. The destination is checked, and a file created empty, before the card is touched: a card must
 * never get a PIN that then has nowhere to go.
 */
import { chmod, mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { InitialSecrets } from '../operations/enroll/options.js';

/** Shows text to the person at the terminal only (stderr on a TTY); absent elsewhere. */
export interface SecretTerminal {
  show(text: string): void;
}

export const processSecretTerminal = (): SecretTerminal | undefined => (process.stderr.isTTY ? { show: (text) => process.stderr.write(`${text}\n`) } : undefined);

function sheet(secrets: InitialSecrets, who: string): string {
  return [
    `# piv-enroll: the initial secrets of ${who}. Hand them over, then delete this file.`,
    ...(secrets.pin !== undefined ? [`PIN=${secrets.pin}`] : []),
    ...(secrets.puk !== undefined ? [`PUK=${secrets.puk}`] : []),
    '',
  ].join('\n');
}

/** Creates `path` for secrets: new (never over an existing file or a link), 0600. */
async function createPrivate(path: string, what: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx', 0o600);
  } catch (error) {
    throw new UsageError(`${what}: cannot create ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); it must not exist yet`);
  }
}

export interface HandOut {
  /** Writes or shows the secrets of one card. */
  deliver(secrets: InitialSecrets, who: string): Promise<void>;
  /** After the run: removes a --pin-out file nothing was written to. */
  finish(): Promise<void>;
}

/**
 * enroll: `--pin-out FILE` or the terminal (undefined: neither). `needed` says why a destination is required (undefined:
 * nothing is generated unless the wizard is asked to, which it offers only when there is a destination).
 */
export async function prepareEnrollHandOut(pinOut: string | undefined, terminal: SecretTerminal | undefined, needed: string | undefined): Promise<HandOut | undefined> {
  if (pinOut === undefined) {
    if (!terminal) {
      if (needed === undefined) return undefined;
      throw new UsageError(`${needed}: the generated value must reach its owner: give --pin-out FILE (a new file, mode 0600), or run on a terminal`);
    }
    // Shown once the card write is over (however it ends): the task list redraws the lines under it while it runs.
    let pending: string | undefined;
    return {
      deliver: async (secrets, who) => {
        const lines = [secrets.pin !== undefined && `PIN: ${secrets.pin}`, secrets.puk !== undefined && `PUK: ${secrets.puk}`].filter(Boolean).join('   ');
        pending = `\nThe new credentials of ${who} (shown only now; write them down for their owner): ${lines}\n`;
      },
      finish: async () => {
        if (pending !== undefined) terminal.show(pending);
        pending = undefined;
      },
    };
  }
  const file = await createPrivate(pinOut, '--pin-out');
  let written = false;
  return {
    deliver: async (secrets, who) => {
      await file.writeFile(sheet(secrets, who));
      await file.sync();
      written = true;
    },
    finish: async () => {
      await file.close();
      if (!written) await rm(pinOut, { force: true });
    },
  };
}

/** batch: `--pin-out DIR`, one new 0600 file per person (DIR/USER.txt); the directory is made 0700 if missing. */
export async function prepareBatchHandOut(dir: string): Promise<(user: string) => HandOut> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return (user) => ({
    deliver: async (secrets, who) => {
      // Overwritten when the person is enrolled again (--force): the newest card's PIN is the one that works.
      const path = join(dir, `${user}.txt`);
      await writeFile(path, sheet(secrets, who), { mode: 0o600 });
      await chmod(path, 0o600);
    },
    finish: async () => undefined,
  });
}

/**
 * --handout without --pin-out: a generated PIN goes only on the handout, which is written when the enrollment ends
 * well. When it did not (a step failed after the card took the PIN), the PIN must not be lost: it goes into a new
 * 0600 file beside the handouts, whose path is returned.
 */
export async function rescueHeldPin(dir: string, person: string, secrets: InitialSecrets): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${person.replace(/[^A-Za-z0-9._-]+/g, '_')}-initial-pin-${Date.now()}.txt`);
  const file = await createPrivate(path, 'the initial PIN');
  try {
    await file.writeFile(sheet(secrets, `the card of ${person}`));
  } finally {
    await file.close();
  }
  return path;
}
