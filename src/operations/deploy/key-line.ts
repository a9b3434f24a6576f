/**
 * authorized_keys lines as sshd reads them (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): optional options, key type,
 * base64 blob, optional comment. A line is the key's when its blob is (the comment does not matter); deploy then
 * compares the options field as written, so the same key with other options is replaced. The remote awk program
 * (templates/deploy/authorized-keys.awk) splits lines the same way; the unit tests hold the two to each other.
 */
import { createRequire } from 'node:module';
import type sshpk from 'sshpk';
import { UsageError } from '../../errors.js';

/** sshpk (38 files, ~55 ms) loads when a key line is read, not with every enrollment's start-up. */
function loadSshpk(): typeof sshpk {
  return createRequire(import.meta.url)('sshpk') as typeof sshpk;
}

export interface KeyLine {
  /** The line as given (trimmed): what gets written to authorized_keys. */
  line: string;
  options?: string;
  type: string;
  blob: string;
  comment?: string;
}

const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;
const isBlob = (text: string): boolean => text.length >= 16 && BLOB.test(text);

/** The end of a leading options field: the first blank outside double quotes (`\"` escapes a quote inside them). */
function endOfOptions(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) return i;
  }
  return text.length;
}

/** Splits a line into its parts, or undefined for blank lines, comments and lines without a key. */
export function splitKeyLine(raw: string): KeyLine | undefined {
  const line = raw.replace(/\r$/, '').replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  if (line === '' || line.startsWith('#')) return undefined;
  const fields = line.split(/[ \t]+/);
  if (fields.length >= 2 && !/[="]/.test(fields[0]!) && isBlob(fields[1]!)) {
    return { line, type: fields[0]!, blob: fields[1]!, comment: fields.slice(2).join(' ') || undefined };
  }
  const end = endOfOptions(line);
  const options = line.slice(0, end);
  const keyFields = line.slice(end).replace(/^[ \t]+/, '').split(/[ \t]+/);
  if (keyFields.length >= 2 && isBlob(keyFields[1]!)) {
    return { line, options, type: keyFields[0]!, blob: keyFields[1]!, comment: keyFields.slice(2).join(' ') || undefined };
  }
  return undefined;
}

function parsedKey(key: KeyLine): sshpk.Key {
  try {
    return loadSshpk().parseKey(Buffer.from(key.blob, 'base64'), 'rfc4253');
  } catch (error) {
    throw new UsageError(`not an SSH public key (${key.type}): ${(error as Error).message}`);
  }
}

/** `SHA256:…` of a blob, as ssh-keygen -l prints it. */
export function blobFingerprint(blob: string): string {
  return loadSshpk().parseKey(Buffer.from(blob, 'base64'), 'rfc4253').fingerprint('sha256').toString();
}

/**
 * The one public key of a .pub or authorized_keys text (options kept: they are deployed with the key). The blob
 * must decode to a key of the stated type, so nothing but a key line ever reaches a remote file.
 */
export function readPublicKeyLine(text: string, origin: string): KeyLine & { fingerprint: string } {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new UsageError(`${origin} holds no public key`);
  if (lines.length > 1) throw new UsageError(`${origin} holds ${lines.length} lines; give one public key`);
  const key = splitKeyLine(lines[0]!);
  if (!key) throw new UsageError(`${origin} is not an OpenSSH public key line ("type base64 [comment]")`);
  const parsed = parsedKey(key);
  const blob = Buffer.from(key.blob, 'base64');
  const typeInBlob = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
  if (typeInBlob !== key.type) throw new UsageError(`${origin}: the key says ${key.type} but its blob holds ${typeInBlob}`);
  return { ...key, fingerprint: parsed.fingerprint('sha256').toString() };
}

export const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
