/**
 * One options type for `enroll`, filled by flags, environment, files and (interactively) the wizard.
 * The wizard only asks for what is still undefined here.
 */
import type { KeyObject } from 'node:crypto';
import type { NameAttribute } from '../../crypto/x509.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import type { CardSelection } from '../open-card.js';
import type { Pkcs11Module } from '../pkcs11-modules.js';

/** How the enrollment reaches the card: its own APDUs (default), or only through a vendor PKCS#11 module. */
export type EnrollBackend = { kind: 'apdu' } | { kind: 'pkcs11'; module: Pkcs11Module };

/**
 * `import.privateKey`: the imported key, read while planning (before anything is written); absent until its passphrase
 * is known. `staged`: a key a re-key generated on the card in the retired slot `from` (and deployed before the card
 * changes), to be moved into the slot (MOVE KEY, firmware 5.7); its policies are the ones it was generated with.
 */
export type KeySource =
  | { kind: 'host' }
  | { kind: 'card' }
  | { kind: 'import'; file: string; privateKey?: KeyObject }
  | { kind: 'staged'; from: number; publicKey: KeyObject }
  /** Keep the key the slot holds and certify it (a re-key finishing what an interrupted run put on the card). */
  | { kind: 'existing' };

export interface EnrollSecrets {
  /** The current PIN (needed unless it is the factory default). */
  pin?: string;
  /** The PIN to set when the card still has the default one. */
  newPin?: string;
  puk?: string;
  newPuk?: string;
  /** Current management key, when it is neither the default nor stored PIN-protected on the card. */
  managementKey?: Uint8Array;
  /** Passphrase of an encrypted key file (--import) or for the encrypted backup (--backup-key). */
  keyPassphrase?: string;
}

export interface EnrollOptions {
  card: CardSelection;
  backend: EnrollBackend;
  slot: number;
  algorithm: KeyAlgorithmInfo;
  pinPolicy: number;
  touchPolicy: number;
  keySource: KeySource;
  /** Where to write an encrypted backup of a host-made key (never written otherwise). */
  backupKey?: string;
  subject: NameAttribute[];
  validDays: number;
  hash: HashName;
  /** Comment of the authorized_keys line. */
  comment: string;
  /** Directory for the exported files; nothing is written to disk without it. */
  outDir?: string;
  /** Overwrite an occupied slot; try the PIN even with a single try left. */
  force: boolean;
  /** Leave factory-default PIN, PUK and management key as they are (warned about). */
  keepDefaultCredentials: boolean;
  secrets: EnrollSecrets;
  /**
   * Which of `secrets.newPin` / `secrets.newPuk` piv-enroll drew itself (--random-pin, --random-puk, batch's default):
   * those must reach a person (the handout, --pin-out, the terminal) or the escrow, since nobody else knows them.
   */
  generated?: { pin?: boolean; puk?: boolean };
  /** age recipients to escrow the PUK and management key this enrollment sets to (stored in the inventory). */
  escrowRecipients?: string[];
}

/**
 * The credentials an enrollment has just set on the card, reported the moment the card took them (before the key
 * step), so that a later failure cannot lose a PIN nobody else knows. Only what changed; never logged or in --json.
 */
export interface NewCredentials {
  serial?: number;
  pin?: string;
  puk?: string;
  managementKey?: { hex: string; algorithm: string };
}

/** The generated values a person must be handed (the PUK only when no escrow keeps it). In memory only. */
export interface InitialSecrets {
  pin?: string;
  puk?: string;
}

export const DEFAULT_VALID_DAYS = 365;
export const DEFAULT_SLOT = 0x9c;
