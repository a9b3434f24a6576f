/**
 * SELECT on the virtual card: the Management application (exact AID) or PIV (objects.ts `select`, which
 * takes any prefix of the long PIV AID from the RID on). Any other AID is 6A82 and leaves the current
 * application selected.
 */
import { bytesEqual } from '../../../bytes/hex.js';
import { MANAGEMENT_AID } from '../../../standards/management.js';
import { SW } from '../../../standards/status-words.js';
import { CardStatus, type InstructionHandler } from '../card-context.js';
import { selectManagement } from './management-application.js';
import { select as selectPiv } from './objects.js';

export const selectApplication: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x04 || cmd.p2 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  if (bytesEqual(cmd.data, MANAGEMENT_AID)) return selectManagement(ctx);
  return selectPiv(ctx, cmd);
};
