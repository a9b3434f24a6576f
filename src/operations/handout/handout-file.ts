/**
 * Where a person's handout goes and how it is written: DIR/<person>-<serial>.pdf, never over an existing file (the
 * check runs while planning, before the card is touched, and the write itself is O_EXCL in case a file appeared
 * since), mode 0600 when it holds the initial PIN and 0644 otherwise. A directory piv-enroll creates is 0700.
 */
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PivEnrollError } from '../../errors.js';
import type { HandoutData } from './render-handout.js';

/** The handout cannot be written where asked (the file exists, the directory is not one, …). */
export class HandoutFileError extends PivEnrollError {}

export const HANDOUT_MODE_WITH_PIN = 0o600;
export const HANDOUT_MODE = 0o644;

export interface HandoutTarget {
  /** Absolute path of the PDF to write. */
  path: string;
}

export interface WrittenHandout {
  path: string;
  mode: number;
  /** It holds the initial PIN (then mode 0600). */
  withPin: boolean;
  /** Characters of the name, hosts or helpdesk line the font cannot draw (empty boxes on the page). */
  unprintable: string[];
}

/** Letters NFKD does not take apart into a base letter and an accent. */
const TRANSLITERATION: Record<string, string> = { Ł: 'L', ł: 'l', Ø: 'O', ø: 'o', Đ: 'D', đ: 'd', ß: 'ss', Æ: 'AE', æ: 'ae', Œ: 'OE', œ: 'oe', Þ: 'Th', þ: 'th' };

/** A file name from the person's name: letters, digits, dot, dash and underscore; anything else becomes '_'. */
export function handoutFileName(person: string, serial: number | undefined): string {
  const safe = person
    .replace(/[ŁłØøĐđßÆæŒœÞþ]/g, (c) => TRANSLITERATION[c] ?? '_')
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '') || 'person';
  return `${safe}-${serial ?? 'no-serial'}.pdf`;
}

/** Checks, before anything is written, that DIR/<person>-<serial>.pdf can be created; refuses an existing file. */
export async function planHandoutFile(dir: string, person: string, serial: number | undefined): Promise<HandoutTarget> {
  const path = resolve(join(dir, handoutFileName(person, serial)));
  const directory = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined; // created at write time
    throw new HandoutFileError(`cannot use the handout directory ${dir}: ${error.code ?? error.message}`);
  });
  if (directory && !directory.isDirectory()) throw new HandoutFileError(`the handout directory ${dir} is not a directory`);
  const existing = await stat(path).catch(() => undefined);
  if (existing) throw new HandoutFileError(`the handout ${path} exists already: move it away or choose another --handout directory (a handout is never overwritten)`);
  return { path };
}

/** Renders and writes the handout at the planned path. */
export async function writeHandout(target: HandoutTarget, data: HandoutData): Promise<WrittenHandout> {
  // Loaded when a handout is written, not at start-up: pdfkit costs every enroll ~170 ms.
  const { renderHandout, unprintableCharacters } = await import('./render-handout.js');
  const bytes = await renderHandout(data);
  const withPin = data.initialPin !== undefined;
  const mode = withPin ? HANDOUT_MODE_WITH_PIN : HANDOUT_MODE;
  await mkdir(resolve(target.path, '..'), { recursive: true, mode: 0o700 });
  let file;
  try {
    file = await open(target.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, HANDOUT_MODE_WITH_PIN);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new HandoutFileError(code === 'EEXIST' ? `the handout ${target.path} appeared while enrolling: not overwritten` : `cannot write the handout ${target.path}: ${code ?? (error as Error).message}`);
  }
  try {
    // Created 0600 whatever it holds, widened only once it is known to hold no PIN (and regardless of the umask).
    await file.writeFile(bytes);
    await file.chmod(mode);
    await file.sync();
  } finally {
    await file.close();
  }
  return { path: target.path, mode, withPin, unprintable: unprintableCharacters(data) };
}
