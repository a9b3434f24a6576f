/**
 * What can go wrong between us and a card in a reader, as typed errors with advice. The smartcard
 * package throws plain Errors whose message is the PC/SC error text; they are translated here, once.
 */
import { TransportError } from '../transport.js';

export class PcscServiceError extends TransportError {}
export class NoReaderError extends TransportError {}
export class NoCardError extends TransportError {}
export class AmbiguousCardError extends TransportError {}
export class ReaderBusyError extends TransportError {}
export class CardRemovedError extends TransportError {}

export const PCSCD_ADVICE =
  'the PC/SC service (pcscd) is not running: start it with `sudo systemctl start pcscd` (or run `pcscd` as root); ' +
  'on Debian install it with `sudo apt-get install pcscd`';

export function translatePcscError(error: unknown, reader?: string): TransportError {
  const message = error instanceof Error ? error.message : String(error);
  const where = reader ? ` (${reader})` : '';
  if (/service not (running|available)|no service|cannot (connect|establish)/i.test(message)) return new PcscServiceError(PCSCD_ADVICE, { cause: error });
  if (/sharing violation/i.test(message)) {
    return new ReaderBusyError(
      `the card${where} is in use by another program (gpg-agent/scdaemon, ykman, a browser or an SSH agent); close it or wait, then try again`,
      { cause: error },
    );
  }
  if (/removed|not connected|transaction failed|no smart ?card|reader.*(unavailable|gone)|unknown reader/i.test(message)) {
    return new CardRemovedError(`the card was removed, or the reader went away, during a command${where}; insert it and run the command again`, {
      cause: error,
    });
  }
  return new TransportError(`PC/SC error${where}: ${message}`, { cause: error });
}
