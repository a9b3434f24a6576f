/** Asymmetric key algorithm identifiers (SP 800-78-4 table 6-2, plus Yubico's RSA3072/4096, Ed25519, X25519). */
export const KEY_ALGORITHM = {
  RSA1024: 0x06,
  RSA2048: 0x07,
  RSA3072: 0x05,
  RSA4096: 0x16,
  ECCP256: 0x11,
  ECCP384: 0x14,
  ED25519: 0xe0,
  X25519: 0xe1,
} as const;
export type KeyAlgorithmName = keyof typeof KEY_ALGORITHM;

/** Management key (symmetric) algorithm identifiers. */
export const MANAGEMENT_KEY_ALGORITHM = {
  TDES: 0x03,
  AES128: 0x08,
  AES192: 0x0a,
  AES256: 0x0c,
} as const;
export type ManagementKeyAlgorithmName = keyof typeof MANAGEMENT_KEY_ALGORITHM;

export interface KeyAlgorithmInfo {
  name: KeyAlgorithmName;
  id: number;
  kind: 'rsa' | 'ec' | 'ed25519' | 'x25519';
  /** RSA modulus bits or curve size in bits. */
  bits: number;
  /** For EC: the node/OpenSSL curve name. */
  curve?: 'P-256' | 'P-384';
}

const KEY_ALGORITHMS: readonly KeyAlgorithmInfo[] = [
  { name: 'RSA1024', id: 0x06, kind: 'rsa', bits: 1024 },
  { name: 'RSA2048', id: 0x07, kind: 'rsa', bits: 2048 },
  { name: 'RSA3072', id: 0x05, kind: 'rsa', bits: 3072 },
  { name: 'RSA4096', id: 0x16, kind: 'rsa', bits: 4096 },
  { name: 'ECCP256', id: 0x11, kind: 'ec', bits: 256, curve: 'P-256' },
  { name: 'ECCP384', id: 0x14, kind: 'ec', bits: 384, curve: 'P-384' },
  { name: 'ED25519', id: 0xe0, kind: 'ed25519', bits: 256 },
  { name: 'X25519', id: 0xe1, kind: 'x25519', bits: 256 },
];

export function keyAlgorithmById(id: number): KeyAlgorithmInfo | undefined {
  return KEY_ALGORITHMS.find((a) => a.id === id);
}

export function keyAlgorithmByName(name: string): KeyAlgorithmInfo | undefined {
  const wanted = name.toUpperCase().replace(/[-_ ]/g, '');
  const aliases: Record<string, KeyAlgorithmName> = { P256: 'ECCP256', P384: 'ECCP384', ECCP256: 'ECCP256', ECCP384: 'ECCP384' };
  const canonical = aliases[wanted] ?? wanted;
  return KEY_ALGORITHMS.find((a) => a.name === canonical);
}

export interface ManagementKeyAlgorithmInfo {
  name: ManagementKeyAlgorithmName;
  id: number;
  keyLength: number;
  /** Cipher block length: the witness/challenge size in GENERAL AUTHENTICATE. */
  blockLength: number;
}

const MANAGEMENT_KEY_ALGORITHMS: readonly ManagementKeyAlgorithmInfo[] = [
  { name: 'TDES', id: 0x03, keyLength: 24, blockLength: 8 },
  { name: 'AES128', id: 0x08, keyLength: 16, blockLength: 16 },
  { name: 'AES192', id: 0x0a, keyLength: 24, blockLength: 16 },
  { name: 'AES256', id: 0x0c, keyLength: 32, blockLength: 16 },
];

export function managementKeyAlgorithmById(id: number): ManagementKeyAlgorithmInfo | undefined {
  return MANAGEMENT_KEY_ALGORITHMS.find((a) => a.id === id);
}

export function managementKeyAlgorithmByName(name: string): ManagementKeyAlgorithmInfo | undefined {
  const wanted = name.toUpperCase().replace(/[-_ ]/g, '');
  const canonical = wanted === '3DES' ? 'TDES' : wanted;
  return MANAGEMENT_KEY_ALGORITHMS.find((a) => a.name === canonical);
}
