/**
 * A site policy (`--policy FILE`, default /etc/piv-enroll/policy.yaml): what an enrollment must look like at this site,
 * and the site's defaults. Pure data, read by load.ts and judged by rules.ts.
 */
import type { KeyAlgorithmName } from '../../standards/algorithms.js';

export type KeyOriginRequirement = 'generated' | 'imported' | 'any';
/** The PIN policies a key can end up with (DEFAULT resolved per slot; MATCH-* only on a YubiKey Bio). */
export type PinPolicyWord = 'never' | 'once' | 'always' | 'match-once' | 'match-always';
/** The touch policies a key can end up with (DEFAULT is NEVER on a YubiKey). */
export type TouchPolicyWord = 'never' | 'always' | 'cached';

/** The built-in rules for devices with a published weakness, each overridable only by its name (allow-known-weak). */
export const KNOWN_WEAK_RULES = ['roca', 'ysa-2024-03'] as const;
export type KnownWeakRule = (typeof KNOWN_WEAK_RULES)[number];

export interface PolicyRequirements {
  keyOrigin?: KeyOriginRequirement;
  algorithms?: KeyAlgorithmName[];
  pinPolicies?: PinPolicyWord[];
  touchPolicies?: TouchPolicyWord[];
  /** "X.Y.Z" as written. */
  minFirmware?: string;
  /** The CLI spelling of the form factors (usb-a-keychain, usb-c-nano, …). */
  formFactors?: string[];
  /** true: only FIPS devices; false (or absent): FIPS not required. */
  fips?: boolean;
  /** Longest X.509 validity allowed, in days. */
  maxValidDays?: number;
}

export interface PolicyDefaults {
  ca?: string;
  inventory?: string;
  validDays?: number;
  /** RFC 4514 with `{user}` standing for the user name, e.g. "CN={user},O=Example". */
  subject?: string;
}

export interface SitePolicy {
  /** Where it was read from, for messages. */
  file: string;
  require: PolicyRequirements;
  allowKnownWeak: KnownWeakRule[];
  defaults: PolicyDefaults;
  /** Group name → host specs ([user@]host[:port]), as written. */
  hostGroups: Record<string, string[]>;
}

/**
 * What is known about a key (planned or on the card) and its device. Fields left undefined are unknown (a card
 * without metadata cannot tell a key's origin); an attestation can fill them with attested values.
 */
export interface PolicyFacts {
  keyOrigin?: 'generated' | 'imported';
  /** Canonical name, e.g. ECCP256. */
  algorithm?: string;
  pinPolicy?: PinPolicyWord;
  touchPolicy?: TouchPolicyWord;
  /** "X.Y.Z". */
  firmware: string;
  /** CLI spelling (usb-a-keychain …). */
  formFactor?: string;
  fips?: boolean;
  validDays?: number;
}

export type PolicyRuleName =
  | 'key-origin' | 'algorithms' | 'pin-policy' | 'touch-policy' | 'min-firmware' | 'form-factors' | 'fips' | 'max-valid-days' | KnownWeakRule;

export interface PolicyRuleResult {
  rule: PolicyRuleName;
  status: 'ok' | 'problem';
  message: string;
}
