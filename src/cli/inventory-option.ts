/**
 * Opening what `--inventory LOCATION` names (a SQLite file, a postgres:// URL without password, or `none`) for the
 * commands that record themselves. Default: PIV_ENROLL_INVENTORY, else ~/.local/state/piv-enroll/inventory.sqlite.
 * The flag itself is declared in card-options.ts, so start-up does not load the inventory.
 */
import { defaultInventoryLocation, Inventory } from '../operations/inventory/inventory.js';

/** Opens the inventory to record into; undefined for `--inventory none`. Opened before any change, so an unreachable one stops the command first. */
export async function openInventoryToRecord(location: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Inventory | undefined> {
  const chosen = location ?? defaultInventoryLocation(env);
  if (chosen === 'none') return undefined;
  return Inventory.open(chosen);
}
