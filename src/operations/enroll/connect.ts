/**
 * Opens the card the way the chosen backend reaches it: a PivSession over PC/SC or the embedded virtual
 * card (APDU backend), or a token of a vendor PKCS#11 module. The CLI then inspects, plans and applies the
 * same way for both.
 */
import { openCardOrVirtual, type FallbackPolicy } from '../open-card.js';
import { Pkcs11Token } from '../pkcs11-token.js';
import { Pkcs11Error } from '../pkcs11-modules.js';
import { apduTarget } from './apdu-target.js';
import { inspectCard, type CardInspection } from './inspect.js';
import type { EnrollOptions } from './options.js';
import { inspectThroughPkcs11 } from './pkcs11-inspect.js';
import { pkcs11Target } from './pkcs11-target.js';
import type { EnrollmentTarget } from './target.js';

export interface EnrollmentConnection {
  /** The PC/SC reader, when the card is in one (PKCS#11 modules can then reach it too). */
  readerName?: string;
  /** What the user should know about the card chosen (e.g. the fallback to the virtual card). */
  notices: string[];
  /** The card is the embedded virtual card (named with --virtual, or standing in). */
  virtual: boolean;
  /** The embedded virtual card stands in because no card was found: never recorded, deployed or certified. */
  standIn: boolean;
  /** `readDevice`: also the form factor and FIPS flag (a site policy restricts them). */
  inspect(slot: number, readDevice?: boolean): Promise<CardInspection>;
  /** APDUs we sent to the card so far; absent through a PKCS#11 backend (the module's own are not seen). */
  apduCount?(): number;
  /** Runs `work` with the card held exclusively for the whole enrollment. */
  withTarget<T>(work: (target: EnrollmentTarget) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function connectForEnrollment(options: EnrollOptions, fallback: FallbackPolicy): Promise<EnrollmentConnection> {
  if (options.backend.kind === 'pkcs11') {
    const token = await Pkcs11Token.open(options.backend.module, options.card.reader);
    const info = await token.info();
    if (!info.firmware) {
      await token.close();
      throw new Pkcs11Error(`${options.backend.module.name} does not report the YubiKey firmware: the PKCS#11 backend enrolls through ykcs11`);
    }
    const target = pkcs11Target(token);
    return {
      readerName: info.reader,
      notices: [],
      virtual: false,
      standIn: false,
      inspect: async (slot) => inspectThroughPkcs11(token, slot),
      withTarget: (work) => work(target),
      close: async () => token.close(),
    };
  }
  const card = await openCardOrVirtual(options.card, fallback);
  const notices: string[] = [];
  if (card.fallbackReason) notices.push(card.fallbackReason);
  else if (card.createdVirtualCard) notices.push(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
  const target = apduTarget(card.session);
  return {
    readerName: card.readerName,
    notices,
    virtual: card.readerName === undefined,
    standIn: card.fallbackReason !== undefined,
    apduCount: () => card.apdus(),
    inspect: (slot, readDevice) => card.session.transaction(() => inspectCard(card.session, slot, readDevice)),
    withTarget: (work) => card.session.transaction(() => work(target)),
    close: () => card.close(),
  };
}
