/**
 * The PUK from the escrow (operations/secrets/escrow.ts), for the helpdesk's `pin unblock --from-escrow`: the escrow
 * key (an age identity file, 0600) is read while planning; the card's newest escrow is found by the serial the card
 * reports and opened (readEscrow records that it was opened, by whom, for what — never the PUK), so the PUK can only
 * ever unblock the card it was escrowed for.
 */
import { EscrowError, readEscrow, readEscrowIdentity } from '../secrets/escrow.js';
import type { PukSource } from './unblock-pin.js';

export async function escrowPukSource(identityFile: string): Promise<PukSource> {
  const identities = await readEscrowIdentity(identityFile);
  return {
    kind: 'escrow',
    description: `escrow opened with ${identityFile}`,
    async read(serial, inventory) {
      const content = await readEscrow(inventory, serial, identities, { purpose: 'pin-unblock' });
      if (content.puk === undefined) throw new EscrowError(`card ${serial}'s escrow holds no PUK (its enrollment did not set one): give the PUK with --puk-file or PIV_PUK`);
      return content.puk;
    },
  };
}
