/**
 * Keeps a virtual card's state in a JSON file, so separate processes (the CLI, the vpcd bridge, tests)
 * see the same card. Written atomically (an exclusive temporary file + rename) with mode 0600: it holds secrets.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PivEnrollError } from '../../errors.js';
import { parseFirmwareVersion } from '../../standards/firmware.js';
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

/**
 * Writes through a temporary file of an unpredictable name in the same directory, created exclusively (O_EXCL):
 * a file or symlink someone planted there is neither followed nor overwritten. Synced before the rename, so the
 * card file is always the old state or the whole new one; the temporary file is removed if anything fails.
 */
export async function writeCardStateFile(path: string, state: CardState): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
  const failed = (error: unknown): VirtualCardStateError => new VirtualCardStateError(`cannot write virtual card file ${path}: ${(error as Error).message}`, { cause: error });
  let handle: FileHandle;
  try {
    handle = await open(temporary, 'wx', 0o600);
  } catch (error) {
    throw failed(error);
  }
  try {
    try {
      await handle.chmod(0o600); // the umask may have taken bits away, never added: 0600 exactly
      await handle.writeFile(JSON.stringify(state, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw failed(error);
  }
  await syncDirectory(dirname(path));
}

/** Makes the rename itself durable; a file system that cannot sync a directory is not an error. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory (EINVAL); the data itself is already synced.
  } finally {
    await handle.close();
  }
}
