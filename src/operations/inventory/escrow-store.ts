/**
 * The escrow table (migration 6): per card, the age-encrypted PUK and management key. This file only stores and finds
 * ciphertext; sealing and opening it is operations/secrets/escrow.ts. Every write and every read for a person appends
 * an event, so the inventory shows who opened which card's escrow when (never what it held).
 */
import type { Inventory } from './inventory.js';
import { InventoryError } from './errors.js';

export interface EscrowRecord {
  cardSerial: number;
  /** The age recipients it was encrypted to, space-separated. */
  recipient: string;
  /** ASCII-armored age file. */
  ciphertext: string;
  createdAt: string;
}

/** The card's row id and its active enrollment (what the events point at), or undefined for a card never recorded. */
async function cardOf(inventory: Inventory, serial: number): Promise<{ cardId: number; enrollmentId: number | null } | undefined> {
  const [card] = await inventory.db.query<{ id: number }>('SELECT id FROM cards WHERE serial = ?', [String(serial)]);
  if (!card) return undefined;
  const [enrollment] = await inventory.db.query<{ id: number }>("SELECT id FROM enrollments WHERE card_id = ? AND status = 'active' ORDER BY id DESC LIMIT 1", [Number(card.id)]);
  return { cardId: Number(card.id), enrollmentId: enrollment ? Number(enrollment.id) : null };
}

/**
 * Stores a card's escrow, the moment the card took the credentials (before its enrollment is recorded, which may still
 * fail): a card not in the inventory yet is added.
 */
export async function recordEscrow(inventory: Inventory, record: Omit<EscrowRecord, 'createdAt'> & { virtual?: boolean }, at: Date): Promise<void> {
  await inventory.db.query('INSERT INTO cards (serial, virtual, first_seen, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING', [
    String(record.cardSerial), record.virtual ? 1 : 0, at.toISOString(), at.toISOString(),
  ]);
  const card = await cardOf(inventory, record.cardSerial);
  if (!card) throw new InventoryError(`card ${record.cardSerial} could not be added to the inventory ${inventory.description}: its escrow cannot be stored`);
  await inventory.db.transaction(async (db) => {
    await db.query('INSERT INTO escrow (card_id, recipient, ciphertext, created_at) VALUES (?, ?, ?, ?)', [card.cardId, record.recipient, record.ciphertext, at.toISOString()]);
    await db.query('INSERT INTO events (at, kind, enrollment_id, detail) VALUES (?, ?, ?, ?)', [
      at.toISOString(), 'escrow', card.enrollmentId, `card ${record.cardSerial}: PUK and management key escrowed to ${record.recipient}`,
    ]);
  });
}

/** The card's newest escrow, or undefined. */
export async function latestEscrow(inventory: Inventory, serial: number): Promise<EscrowRecord | undefined> {
  const [row] = await inventory.db.query(
    'SELECT e.recipient, e.ciphertext, e.created_at FROM escrow e JOIN cards c ON c.id = e.card_id WHERE c.serial = ? ORDER BY e.id DESC LIMIT 1',
    [String(serial)],
  );
  if (!row) return undefined;
  return { cardSerial: serial, recipient: String(row.recipient), ciphertext: String(row.ciphertext), createdAt: String(row.created_at) };
}

/** Notes that a card's escrow was opened: by whom, on which host, what for (the detail never holds a secret). */
export async function recordEscrowOpened(inventory: Inventory, serial: number, detail: string, at: Date): Promise<void> {
  const card = await cardOf(inventory, serial);
  await inventory.db.query('INSERT INTO events (at, kind, enrollment_id, detail) VALUES (?, ?, ?, ?)', [at.toISOString(), 'escrow-show', card?.enrollmentId ?? null, `card ${serial}: ${detail}`]);
}

/** The events about a card's escrow (stored and opened), oldest first. */
export async function escrowEvents(inventory: Inventory, serial: number): Promise<Array<{ at: string; kind: string; detail: string }>> {
  const rows = await inventory.db.query("SELECT at, kind, detail FROM events WHERE kind IN ('escrow', 'escrow-show') AND detail LIKE ? ORDER BY id", [`card ${serial}:%`]);
  return rows.map((r) => ({ at: String(r.at), kind: String(r.kind), detail: String(r.detail) }));
}
