/** The PKCS#11 host process gets the PIN over IPC only: its environment (read from /proc) holds none of the secrets. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { prestartPkcs11Host } from '../../src/operations/pkcs11-host.js';
import { SECRET_VARIABLES } from '../../src/operations/child-environment.js';
import { pkcs11Unavailable } from '../../src/operations/pkcs11-binding.js';

/** The environments of this process's children whose command line names pkcs11. */
function hostEnvironments(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== process.pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pkcs11')) continue;
      found.push(readFileSync(`/proc/${pid}/environ`, 'utf8'));
    } catch {
      // a process that ended while we looked
    }
  }
  return found;
}

describe.skipIf(pkcs11Unavailable() !== undefined)('the PKCS#11 host process', () => {
  test('starts without any secret variable of ours in its environment, with what modules need', async () => {
    const values = Object.fromEntries(SECRET_VARIABLES.map((name, i) => [name, `secret-value-${i}-7391`]));
    const saved = { ...process.env };
    Object.assign(process.env, values, { PCSCLITE_CSOCK_NAME: '/run/pcscd/pcscd.comm' });
    try {
      prestartPkcs11Host();
      let environments: string[] = [];
      for (let i = 0; i < 50 && environments.length === 0; i++) {
        environments = hostEnvironments();
        if (environments.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(environments.length).toBeGreaterThan(0);
      for (const environment of environments) {
        for (const value of Object.values(values)) expect(environment.includes(value)).toBe(false);
        expect(environment).toContain('PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm');
        expect(environment).toContain('PATH=');
      }
    } finally {
      for (const name of Object.keys(values)) delete process.env[name];
      if (saved.PCSCLITE_CSOCK_NAME === undefined) delete process.env.PCSCLITE_CSOCK_NAME;
    }
  });
});
