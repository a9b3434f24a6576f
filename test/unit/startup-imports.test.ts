/**
 * `piv-enroll enroll` starts without the packages only some runs need: pdfkit (--handout), age-encryption (escrow) and
 * yaml (a policy file) are loaded where they are used; node-forge and sshpk are not imported at all (sshpk is required where a key file or line is read), src/crypto/forge.ts requires
 * only the parts piv-enroll uses (not the whole package with TLS). Checked on the build (dist/, from `tsc -p tsconfig.json`), by
 * walking the static import graph of dist/cli/commands/enroll.js: the `import … from '…'`, `import '…'` and
 * `export … from '…'` lines (an `import type` is erased by tsc, and skipped here too). `npm run bench:startup` has the times.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const dist = new URL('../../dist/', import.meta.url).pathname;
const ENROLL = resolve(dist, 'cli/commands/enroll.js');

const STATIC_IMPORT = /^[ \t]*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The package of a bare specifier: `yaml`, `@inquirer/prompts`, `node-forge` for `node-forge/lib/asn1.js`. */
const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * Every package reachable from `entry` (node: builtins left out), each with the chain of files that reaches it first.
 * With `dynamic`, the `import('…')` calls count too.
 */
function reachablePackages(entry: string, { dynamic = false } = {}): Map<string, string[]> {
  const via = new Map<string, string | undefined>([[entry, undefined]]);
  const chain = (file: string): string[] => {
    const files: string[] = [];
    for (let at: string | undefined = file; at !== undefined; at = via.get(at)) files.unshift(relative(dist, at));
    return files;
  };
  const packages = new Map<string, string[]>();
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(STATIC_IMPORT), ...(dynamic ? text.matchAll(DYNAMIC_IMPORT) : [])].map((m) => m[1]!);
    for (const specifier of specifiers) {
      if (specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (!via.has(target)) {
          via.set(target, file);
          queue.push(target);
        }
      } else if (!packages.has(packageOf(specifier))) {
        packages.set(packageOf(specifier), [...chain(file), specifier]);
      }
    }
  }
  return packages;
}

describe('what enroll loads at start-up', () => {
  test('the build is there (run tsc -p tsconfig.json first)', () => {
    expect(existsSync(ENROLL), `${ENROLL} is missing: build with tsc -p tsconfig.json`).toBe(true);
  });

  test('pdfkit, age-encryption, yaml, node-forge and sshpk are not imported statically by dist/cli/commands/enroll.js', () => {
    const packages = reachablePackages(ENROLL);
    // The walk sees what enroll does load at once: commander (the CLI).
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['commander']));
    const loadedAtStart = ['pdfkit', 'age-encryption', 'yaml', 'node-forge', 'sshpk'].filter((name) => packages.has(name)).map((name) => packages.get(name)!.join(' → '));
    expect(loadedAtStart).toEqual([]);
  });

  test('they are still reached, through import() where they are used', () => {
    const packages = reachablePackages(ENROLL, { dynamic: true });
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['pdfkit', 'age-encryption', 'yaml']));
  });
});
