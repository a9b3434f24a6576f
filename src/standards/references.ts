/** Key references (slots) and the PIN/PUK/management-key references, as in NIST SP 800-73-4 part 1 table 4b. */
export const SLOT = {
  AUTHENTICATION: 0x9a,
  SIGNATURE: 0x9c,
  KEY_MANAGEMENT: 0x9d,
  CARD_AUTHENTICATION: 0x9e,
  ATTESTATION: 0xf9,
} as const;

export const REF = {
  PIN: 0x80,
  PUK: 0x81,
  MANAGEMENT_KEY: 0x9b,
} as const;

export const RETIRED_SLOTS: readonly number[] = Array.from({ length: 20 }, (_, i) => 0x82 + i);

/** Slots that can hold an asymmetric key (F9 only through the card itself or an import). */
export const KEY_SLOTS: readonly number[] = [0x9a, 0x9c, 0x9d, 0x9e, ...RETIRED_SLOTS, 0xf9];

export function isKeySlot(slot: number): boolean {
  return KEY_SLOTS.includes(slot);
}

export function slotHex(slot: number): string {
  return slot.toString(16).toUpperCase().padStart(2, '0');
}

/** Parses "9c", "9C", "0x9c", or a name (authentication, signature, key-management, card-authentication). */
export function parseSlot(text: string): number | undefined {
  const names: Record<string, number> = {
    authentication: SLOT.AUTHENTICATION,
    signature: SLOT.SIGNATURE,
    'key-management': SLOT.KEY_MANAGEMENT,
    'card-authentication': SLOT.CARD_AUTHENTICATION,
  };
  const lower = text.trim().toLowerCase();
  if (Object.hasOwn(names, lower)) return names[lower]; // not `in`: "constructor" and "toString" are in every object
  const hex = lower.startsWith('0x') ? lower.slice(2) : lower;
  if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
  const slot = parseInt(hex, 16);
  return isKeySlot(slot) && slot !== SLOT.ATTESTATION ? slot : undefined;
}
