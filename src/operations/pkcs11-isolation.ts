/**
 * Keeping a PKCS#11 module to the one reader it is checking, so that checks of cards in other readers can run at the
 * same time (a batch). OpenSC, left alone, connects and SELECTs the card in every reader at C_Initialize (21 APDUs per
 * card, counted on the test bench) and keeps those connections: a SELECT between another card's context-specific
 * login and its C_Sign resets that login, and the connection it holds makes piv-enroll's exclusive connect to a card
 * wait. OpenSC's `ignored_readers` (opensc.conf, app block, a list of substrings of reader names; read by OpenSC 0.23
 * from an `app opensc-pkcs11` block) keeps it off the other readers: with it, the other cards got no APDU at all.
 *
 * ykcs11 has no such setting: its C_GetSlotList connects to every reader (yubico-piv-tool 2.2, ykcs11.c), so a token of
 * ykcs11, or of any other module, touches every card and is given the whole bench (pkcs11-host.ts, takeTurn).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listReaders } from '../transport/pcsc/pcsc-transport.js';
import type { Pkcs11Module } from './pkcs11-modules.js';

/** Where a token's module may reach: its own reader only (with the environment that keeps it there), or every reader. */
export type ReaderReach = { kind: 'one-reader'; environment: Record<string, string> } | { kind: 'every-reader' };

const EVERY_READER: ReaderReach = { kind: 'every-reader' };
/** OpenSC's compiled-in configuration file on Debian (strings of libopensc.so.8), unless OPENSC_CONF names another. */
const OPENSC_DEFAULT_CONFIGURATION = '/etc/opensc/opensc.conf';

/**
 * How far `module` reaches when it checks the card in `reader`, given the readers PC/SC has now (`readerNames`).
 * OpenSC is kept to `reader` when its configuration can be extended safely: the user's own file, unchanged, with an
 * `app opensc-pkcs11` block added that ignores every other reader. A file that already has such a block, or its own
 * ignored_readers, is not second-guessed (every reader, as before); nor is a reader whose name another's contains.
 */
export function readerReach(module: Pkcs11Module, reader: string | undefined, readerNames: readonly string[], environment: NodeJS.ProcessEnv = process.env): ReaderReach {
  if (module.name !== 'opensc' || reader === undefined || !readerNames.includes(reader)) return EVERY_READER;
  const others = readerNames.filter((name) => name !== reader);
  if (others.length === 0) return { kind: 'one-reader', environment: {} };
  // ignored_readers matches substrings: an entry inside our own reader's name would hide our card too.
  if (others.some((name) => reader.includes(name) || /["\\\n]/.test(name))) return EVERY_READER;
  const base = readConfiguration(environment.OPENSC_CONF || OPENSC_DEFAULT_CONFIGURATION);
  if (base === undefined || /opensc-pkcs11|ignored_readers/.test(base)) return EVERY_READER;
  const block = `\n# Added by piv-enroll for one signature check: OpenSC sees the card in ${reader} only.\napp opensc-pkcs11 {\n\tignored_readers = ${others.map((name) => `"${name}"`).join(', ')};\n}\n`;
  return { kind: 'one-reader', environment: { OPENSC_CONF: writeConfiguration(base + block) } };
}

/** The text of OpenSC's configuration; '' when there is none (OpenSC then runs on its defaults); undefined if unreadable. */
function readConfiguration(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? '' : undefined;
  }
}

let directory: string | undefined;
let written = 0;

/** A configuration file in a directory of our own (mode 0700, gone at exit). It holds reader names, no secret. */
function writeConfiguration(text: string): string {
  if (!directory) {
    const made = mkdtempSync(join(tmpdir(), 'piv-enroll-opensc-'));
    directory = made;
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  const file = join(directory, `opensc-${++written}.conf`);
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  return file;
}

/** readerReach with the readers PC/SC lists now; without PC/SC (or a reader) the module reaches every reader. */
export function currentReaderReach(module: Pkcs11Module, reader: string | undefined): ReaderReach {
  if (module.name !== 'opensc' || reader === undefined) return EVERY_READER;
  let names: string[];
  try {
    names = listReaders().map((r) => r.name);
  } catch {
    return EVERY_READER;
  }
  return readerReach(module, reader, names);
}
