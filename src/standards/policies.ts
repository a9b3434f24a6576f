/** PIN policy (tag AA) values as YubiKey firmware defines them. */
export const PIN_POLICY = {
  DEFAULT: 0,
  NEVER: 1,
  ONCE: 2,
  ALWAYS: 3,
  MATCH_ONCE: 4,
  MATCH_ALWAYS: 5,
} as const;
export type PinPolicyName = keyof typeof PIN_POLICY;

/** Touch policy (tag AB) values. CACHED keeps a touch valid for 15 seconds. */
export const TOUCH_POLICY = {
  DEFAULT: 0,
  NEVER: 1,
  ALWAYS: 2,
  CACHED: 3,
} as const;
export type TouchPolicyName = keyof typeof TOUCH_POLICY;

export const TOUCH_CACHE_MILLISECONDS = 15_000;

/** The PIN policy a slot gets when DEFAULT is asked for: 9C always, 9E never, the others once. */
export function defaultPinPolicy(slot: number): number {
  if (slot === 0x9c) return PIN_POLICY.ALWAYS;
  if (slot === 0x9e) return PIN_POLICY.NEVER;
  return PIN_POLICY.ONCE;
}

export function pinPolicyName(value: number): string {
  return (Object.keys(PIN_POLICY) as PinPolicyName[]).find((k) => PIN_POLICY[k] === value) ?? `unknown(${value})`;
}

export function touchPolicyName(value: number): string {
  return (Object.keys(TOUCH_POLICY) as TouchPolicyName[]).find((k) => TOUCH_POLICY[k] === value) ?? `unknown(${value})`;
}

export function parsePinPolicy(text: string): number | undefined {
  const key = text.toUpperCase().replace(/-/g, '_') as PinPolicyName;
  return key in PIN_POLICY ? PIN_POLICY[key] : undefined;
}

export function parseTouchPolicy(text: string): number | undefined {
  const key = text.toUpperCase().replace(/-/g, '_') as TouchPolicyName;
  return key in TOUCH_POLICY ? TOUCH_POLICY[key] : undefined;
}
