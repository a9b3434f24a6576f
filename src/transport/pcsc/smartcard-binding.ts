/**
 * The part of the `smartcard` N-API package (PC/SC through pcscd) that piv-enroll uses, typed here so that the
 * project compiles and runs where the package is absent: it is an optional dependency that builds only where
 * libpcsclite-dev is installed. The package is loaded on first use, and its absence is a typed error with the
 * Debian packages to install, never a stack trace.
 */
import { createRequire } from 'node:module';
import { PcscServiceError } from './errors.js';

export interface SmartcardCard {
  readonly connected: boolean;
  transmit(command: Buffer, options?: { maxRecvLength?: number }): Promise<Buffer>;
  disconnect(disposition?: number): void;
}

export interface SmartcardReader {
  readonly name: string;
  /** SCARD_STATE_* bits. */
  readonly state: number;
  connect(shareMode: number, protocols: number): Promise<SmartcardCard>;
}

export interface SmartcardContext {
  listReaders(): SmartcardReader[];
  close(): void;
}

export interface SmartcardBinding {
  Context: new () => SmartcardContext;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_SHARE_EXCLUSIVE: number;
  readonly SCARD_PROTOCOL_T0: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_LEAVE_CARD: number;
}

/** What to do when PC/SC is missing; said in the notice of the fallback to the embedded virtual card too. */
export const PCSC_INSTALL_ADVICE =
  'install pcscd and libpcsclite-dev (sudo apt-get install pcscd libpcsclite-dev), then run npm install again to build the smartcard module';

let loaded: SmartcardBinding | undefined;

export function smartcard(): SmartcardBinding {
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)('smartcard') as SmartcardBinding;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'the smartcard module is not installed' : `the smartcard module did not load: ${(error as Error).message.split('\n')[0]}`;
      throw new PcscServiceError(`PC/SC support is not available (${reason}): ${PCSC_INSTALL_ADVICE}`, { cause: error });
    }
  }
  return loaded;
}
