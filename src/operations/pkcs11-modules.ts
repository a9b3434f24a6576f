/**
 * The PKCS#11 modules that can talk to PIV cards (OpenSC's and Yubico's ykcs11), how `--pkcs11`/`--module` name them,
 * and how both number a PIV slot's objects.
 */
import { existsSync } from 'node:fs';
import { PivEnrollError, UsageError } from '../errors.js';

export class Pkcs11Error extends PivEnrollError {}

export interface Pkcs11Module {
  name: string;
  path: string;
}

const MODULE_CANDIDATES: Array<{ name: string; files: string[] }> = [
  { name: 'opensc', files: ['opensc-pkcs11.so', 'pkcs11/opensc-pkcs11.so'] },
  { name: 'ykcs11', files: ['libykcs11.so', 'libykcs11.so.2'] },
];
const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/** The PKCS#11 modules installed here that can talk to PIV cards. */
export function findPkcs11Modules(): Pkcs11Module[] {
  const found: Pkcs11Module[] = [];
  for (const candidate of MODULE_CANDIDATES) {
    const path = LIBRARY_DIRS.flatMap((dir) => candidate.files.map((file) => `${dir}/${file}`)).find((p) => existsSync(p));
    if (path) found.push({ name: candidate.name, path });
  }
  return found;
}

/** --pkcs11: auto = every module installed, none, or names (opensc, ykcs11) and paths, comma-separated. */
export function selectPkcs11Modules(spec: string): Pkcs11Module[] {
  if (spec === 'none') return [];
  const found = findPkcs11Modules();
  if (spec === 'auto') return found;
  return spec.split(',').map((item) => {
    const name = item.trim();
    if (name.includes('/')) return { name, path: name };
    const module = found.find((m) => m.name === name);
    if (!module) throw new UsageError(`PKCS#11 module "${name}" is not installed here (found: ${found.map((m) => m.name).join(', ') || 'none'})`);
    return module;
  });
}

/** CKA_ID of a PIV slot's key, as both OpenSC and ykcs11 number them: 9A 1, 9C 2, 9D 3, 9E 4, 82–95 5–24. */
export function pkcs11KeyId(slot: number): number {
  const standard: Record<number, number> = { 0x9a: 1, 0x9c: 2, 0x9d: 3, 0x9e: 4 };
  return standard[slot] ?? 5 + (slot - 0x82);
}
