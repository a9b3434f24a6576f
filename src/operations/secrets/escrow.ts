/**
 * Escrow of a card's PUK and management key, for the helpdesk that must unblock a PIN or manage the card later.
 *
 * Why age (https://age-encryption.org/v1) and not CMS enveloped data: age is one small, fully specified format with no
 * options to get wrong (X25519 + HKDF-SHA-256 + ChaCha20-Poly1305); `age-encryption` is its TypeScript implementation by
 * age's own author (typage), on audited @noble primitives; and the Debian `age` CLI decrypts what we store
 * (`age -d -i KEY`), so the escrow does not depend on piv-enroll to be opened. CMS would need a certificate profile,
 * a choice of key transport (RSA-OAEP or ECDH) and of content cipher, and node-forge's PKCS#7 has no RSA-OAEP.
 *
 * What one card's escrow holds: a JSON object (EscrowContent), age-encrypted to the site's recipients, ASCII-armored.
 */
import { stat, readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { PivEnrollError, UsageError } from '../../errors.js';
import { latestEscrow, recordEscrowOpened } from '../inventory/escrow-store.js';
import type { Inventory } from '../inventory/inventory.js';

export class EscrowError extends PivEnrollError {}

// Loaded when a recipient, identity or escrow is at hand, not at start-up: age-encryption costs every enroll ~120 ms.
const loadAge = () => import('age-encryption');

/** What is escrowed for one card. Only what the enrollment set: a PUK or management key it did not change is absent. */
export interface EscrowContent {
  format: 'piv-enroll-escrow/1';
  serial: number;
  puk?: string;
  /** Hex, as `--management-key-file` and ykman take it. */
  managementKey?: string;
  managementKeyAlgorithm?: string;
  /** The management key is also stored on the card, PIN-protected (ykman's "protected" management key). */
  managementKeyProtected?: boolean;
  createdAt: string;
}

/** Bech32 of an age X25519 (or post-quantum hybrid) recipient. */
const RECIPIENT = /^age1[0-9a-z]+$/;

/**
 * `--escrow-recipient`: an age recipient (age1…), or a file of them (one a line, # comments, as `age -R` reads).
 * Each is checked by age itself, so a typo stops the enrollment before the card is touched.
 */
export async function parseEscrowRecipients(value: string): Promise<string[]> {
  let recipients: string[];
  if (RECIPIENT.test(value.trim())) recipients = [value.trim()];
  else {
    let text: string;
    try {
      text = await readFile(value, 'utf8');
    } catch (error) {
      throw new UsageError(`--escrow-recipient: "${value}" is neither an age recipient (age1…) nor a readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    recipients = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    if (recipients.length === 0) throw new UsageError(`--escrow-recipient: ${value} holds no age recipient`);
  }
  const { Encrypter } = await loadAge();
  for (const recipient of recipients) {
    try {
      new Encrypter().addRecipient(recipient);
    } catch (error) {
      // The recipient is public: naming it helps, and hides nothing.
      throw new UsageError(`--escrow-recipient: "${recipient}" is not an age recipient (${(error as Error).message})`);
    }
  }
  return recipients;
}

/** The escrow of one card, encrypted to `recipients`, as an ASCII-armored age file. */
export async function sealEscrow(recipients: string[], content: EscrowContent): Promise<string> {
  const { Encrypter, armor } = await loadAge();
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(JSON.stringify(content)));
}

/**
 * The identities of an age identity file (AGE-SECRET-KEY-1… lines, as age-keygen writes them). Like ssh with key files,
 * a file others can read is refused: whoever reads it opens every card's escrow.
 */
export async function readEscrowIdentity(path: string): Promise<string[]> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) throw new UsageError(`${path} (the escrow key) can be read by other users: chmod 600 it first`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the escrow key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const identities = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (identities.length === 0) throw new UsageError(`${path} holds no age identity (an AGE-SECRET-KEY-1… line, as age-keygen writes)`);
  const { identityToRecipient } = await loadAge();
  for (const identity of identities) {
    try {
      await identityToRecipient(identity);
    } catch {
      throw new UsageError(`${path} holds an AGE-SECRET-KEY line that is not a valid age identity`); // never the line itself
    }
  }
  return identities;
}

/** Decrypts one escrow; an identity that does not open it is an EscrowError naming the recipients it was made for. */
export async function openEscrow(ciphertext: string, recipient: string, identities: string[], serial: number): Promise<EscrowContent> {
  const { Decrypter, armor } = await loadAge();
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  let text: string;
  try {
    text = await decrypter.decrypt(armor.decode(ciphertext), 'text');
  } catch (error) {
    if (/no identity matched/i.test((error as Error).message)) {
      throw new EscrowError(`this escrow key does not open card ${serial}'s escrow: it was encrypted to ${recipient}`);
    }
    throw new EscrowError(`card ${serial}'s escrow cannot be decrypted: ${(error as Error).message}`);
  }
  const content = JSON.parse(text) as EscrowContent;
  if (content.format !== 'piv-enroll-escrow/1' || content.serial !== serial) throw new EscrowError(`card ${serial}'s escrow holds something else (${content.format}, serial ${content.serial})`);
  return content;
}

export interface EscrowAudit {
  /** Why it was opened: `show` (escrow show), `pin-unblock`, … — written into the event. */
  purpose: string;
  /** Who and where; default the OS user and host name. */
  who?: string;
  host?: string;
  now?: () => Date;
}

/**
 * Finds and decrypts card `serial`'s newest escrow with `identities`, and records in the inventory that it was opened
 * (event `escrow-show`: serial, user, host, purpose — never the secret). The event is written only when decryption
 * succeeded: a wrong key learns nothing and changes nothing.
 */
export async function readEscrow(inventory: Inventory, serial: number, identities: string[], audit: EscrowAudit = { purpose: 'show' }): Promise<EscrowContent> {
  const record = await latestEscrow(inventory, serial);
  if (!record) throw new EscrowError(`the inventory ${inventory.description} holds no escrow for card ${serial}`);
  const content = await openEscrow(record.ciphertext, record.recipient, identities, serial);
  const who = audit.who ?? userInfo().username;
  await recordEscrowOpened(inventory, serial, `escrow opened by ${who}@${audit.host ?? hostname()} (${audit.purpose})`, (audit.now ?? (() => new Date()))());
  return content;
}
