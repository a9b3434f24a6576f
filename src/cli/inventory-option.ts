/**
 * `--inventory LOCATION` (a SQLite file, a postgres:// URL without password, or `none`), shared by every command
 * that records itself. Default: PIV_ENROLL_INVENTORY, else ~/.local/state/piv-enroll/inventory.sqlite.
 */
import type { Command } from 'commander';
import { defaultInventoryLocation, Inventory } from '../operations/inventory/inventory.js';

export const INVENTORY_HELP = 'where to record this: a SQLite file, postgres://user@host/db (password from PGPASSWORD or ~/.pgpass), or none (default: PIV_ENROLL_INVENTORY or ~/.local/state/piv-enroll/inventory.sqlite)';

export function addInventoryOption(command: Command): Command {
  return command.option('--inventory <location>', INVENTORY_HELP);
}

/** Opens the inventory to record into; undefined for `--inventory none`. Opened before any change, so an unreachable one stops the command first. */
export async function openInventoryToRecord(location: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Inventory | undefined> {
  const chosen = location ?? defaultInventoryLocation(env);
  if (chosen === 'none') return undefined;
  return Inventory.open(chosen);
}
