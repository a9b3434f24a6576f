/**
 * Keeps a virtual card's state in a JSON file, so separate processes (the CLI, the vpcd bridge, tests)
 * see the same card. Written atomically (temporary file + rename) with mode 0600: it holds secrets.
 */
import { chmod, open, readFile, rename, unlink } from 'node:fs/promises';
import { PivEnrollError } from '../../errors.js';
import { parseFirmwareVersion } from '../../spec/firmware.js';
import { STATE_FORMAT, type CardState } from './card-state.js';

export class VirtualCardStateError extends PivEnrollError {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validCredential(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.paddedHex === 'string' &&
    /^[0-9A-F]{16}$/i.test(value.paddedHex) &&
    Number.isInteger(value.retriesTotal) &&
    Number.isInteger(value.retriesLeft)
  );
}

/** Checks the shape of a state file closely enough that the card never trips over a hand-edited one. */
export function parseCardState(text: string, source: string): CardState {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new VirtualCardStateError(`${source} is not JSON, so not a piv-enroll virtual card file`);
  }
  if (!isRecord(data) || data.format !== STATE_FORMAT) {
    throw new VirtualCardStateError(`${source} is not a piv-enroll virtual card file (format ${STATE_FORMAT} expected)`);
  }
  const problems: string[] = [];
  if (typeof data.firmware !== 'string' || !parseFirmwareVersion(data.firmware)) problems.push('firmware');
  if (!Number.isInteger(data.serial)) problems.push('serial');
  if (!validCredential(data.pin)) problems.push('pin');
  if (!validCredential(data.puk)) problems.push('puk');
  const mk = data.managementKey;
  if (!isRecord(mk) || !Number.isInteger(mk.algorithm) || typeof mk.keyHex !== 'string' || typeof mk.touchRequired !== 'boolean') problems.push('managementKey');
  if (!isRecord(data.keys)) problems.push('keys');
  if (!isRecord(data.objects)) problems.push('objects');
  if (!Number.isInteger(data.formFactor)) problems.push('formFactor');
  if (!Number.isInteger(data.touchCount)) problems.push('touchCount');
  if (problems.length > 0) throw new VirtualCardStateError(`${source}: invalid virtual card state (${problems.join(', ')})`);
  return data as unknown as CardState;
}

export async function readCardStateFile(path: string): Promise<CardState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VirtualCardStateError(`cannot read virtual card file ${path}: ${(error as Error).message}`);
  }
  return parseCardState(text, path);
}

export async function writeCardStateFile(path: string, state: CardState): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(state, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new VirtualCardStateError(`cannot write virtual card file ${path}: ${(error as Error).message}`);
  }
}
