/**
 * The part of pkcs11js (a native addon: an optional dependency built from source at install) that piv-enroll
 * uses, typed here so that the project compiles and runs where the addon is absent or did not build. Loaded on
 * first use; its absence is a typed Pkcs11UnavailableError, which callers report as "PKCS#11 checks unavailable".
 */
import { createRequire } from 'node:module';
import { Pkcs11Error } from './pkcs11-modules.js';

export type Pkcs11Handle = Buffer;

export interface Pkcs11Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}
export type Pkcs11Template = Pkcs11Attribute[];

interface Version {
  major: number;
  minor: number;
}

export interface Pkcs11SlotInfo {
  slotDescription: string;
}

export interface Pkcs11TokenInfo {
  label: string;
  serialNumber: string;
  flags: number;
  firmwareVersion: Version;
}

export interface Pkcs11Mechanism {
  mechanism: number;
}

/** One loaded module (pkcs11js's PKCS11 class), the calls we make. */
export interface Pkcs11Api {
  load(path: string): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Pkcs11Handle[];
  C_GetSlotInfo(slot: Pkcs11Handle): Pkcs11SlotInfo;
  C_GetTokenInfo(slot: Pkcs11Handle): Pkcs11TokenInfo;
  C_OpenSession(slot: Pkcs11Handle, flags: number): Pkcs11Handle;
  C_CloseSession(session: Pkcs11Handle): void;
  C_Login(session: Pkcs11Handle, userType: number, pin?: string): void;
  C_Logout(session: Pkcs11Handle): void;
  C_SetPIN(session: Pkcs11Handle, oldPin: string, newPin: string): void;
  C_CreateObject(session: Pkcs11Handle, template: Pkcs11Template): Pkcs11Handle;
  C_FindObjectsInit(session: Pkcs11Handle, template: Pkcs11Template): void;
  C_FindObjects(session: Pkcs11Handle): Pkcs11Handle | null;
  C_FindObjectsFinal(session: Pkcs11Handle): void;
  C_GetAttributeValue(session: Pkcs11Handle, object: Pkcs11Handle, template: Pkcs11Template): Array<{ type: number; value: Buffer }>;
  C_GenerateKeyPair(session: Pkcs11Handle, mechanism: Pkcs11Mechanism, publicTemplate: Pkcs11Template, privateTemplate: Pkcs11Template): { publicKey: Pkcs11Handle; privateKey: Pkcs11Handle };
  C_SignInit(session: Pkcs11Handle, mechanism: Pkcs11Mechanism, key: Pkcs11Handle): void;
  C_Sign(session: Pkcs11Handle, data: Buffer, out: Buffer): Buffer;
}

/** pkcs11js's exports: the PKCS11 class and the PKCS#11 constants we use (their values are the standard's). */
export interface PkcsLib {
  PKCS11: new () => Pkcs11Api;
  readonly CKA_ALWAYS_AUTHENTICATE: number;
  readonly CKA_CERTIFICATE_TYPE: number;
  readonly CKA_CLASS: number;
  readonly CKA_COEFFICIENT: number;
  readonly CKA_EC_PARAMS: number;
  readonly CKA_EC_POINT: number;
  readonly CKA_EXPONENT_1: number;
  readonly CKA_EXPONENT_2: number;
  readonly CKA_ID: number;
  readonly CKA_KEY_TYPE: number;
  readonly CKA_MODULUS: number;
  readonly CKA_MODULUS_BITS: number;
  readonly CKA_PRIME_1: number;
  readonly CKA_PRIME_2: number;
  readonly CKA_PUBLIC_EXPONENT: number;
  readonly CKA_VALUE: number;
  readonly CKC_X_509: number;
  readonly CKF_RW_SESSION: number;
  readonly CKF_SERIAL_SESSION: number;
  readonly CKK_EC: number;
  readonly CKK_RSA: number;
  readonly CKM_ECDSA: number;
  readonly CKM_EC_KEY_PAIR_GEN: number;
  readonly CKM_RSA_PKCS: number;
  readonly CKM_RSA_PKCS_KEY_PAIR_GEN: number;
  readonly CKO_CERTIFICATE: number;
  readonly CKO_PRIVATE_KEY: number;
  readonly CKO_PUBLIC_KEY: number;
  readonly CKU_CONTEXT_SPECIFIC: number;
  readonly CKU_SO: number;
  readonly CKU_USER: number;
}

/** pkcs11js is not installed, or did not build: no PKCS#11 path on this machine. */
export class Pkcs11UnavailableError extends Pkcs11Error {}

export const PKCS11JS_ADVICE = 'the pkcs11js module is not installed or did not build (it needs python3, make and g++ at npm install): run npm install again';

let loaded: PkcsLib | undefined;
const require = createRequire(import.meta.url);

/**
 * Loads pkcs11js here for its constants (the PKCS11 class is used in the host process: pkcs11-host.ts),
 * which also tells early whether it is there.
 */
export function loadPkcs11(): PkcsLib {
  if (!loaded) {
    try {
      loaded = require('pkcs11js') as PkcsLib;
    } catch (error) {
      throw new Pkcs11UnavailableError(`PKCS#11 is not available: ${PKCS11JS_ADVICE}`, { cause: error });
    }
  }
  return loaded;
}

/** Where pkcs11js is, for the host process to load it from (call loadPkcs11 first). */
export function pkcs11jsPath(): string {
  return require.resolve('pkcs11js');
}

/** Why PKCS#11 cannot be used on this machine (pkcs11js absent, or its addon not built), or undefined when it can. */
export function pkcs11Unavailable(): string | undefined {
  try {
    loadPkcs11();
    return undefined;
  } catch (error) {
    if (error instanceof Pkcs11UnavailableError) return error.message;
    throw error;
  }
}
