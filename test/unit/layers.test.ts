/**
 * The architecture, checked on the sources: layers import only downwards (README's table, drawn by
 * test/tools/import-graph.mjs); a command never runs another command; command files stay adapters (≤ 250 lines);
 * commander's flags are typed end to end (no `as never`).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { folderOf, importsOf, LAYERS, layerOf, sourceFiles } from '../tools/import-graph.mjs';

const src = new URL('../../src/', import.meta.url).pathname;
const name = (file: string): string => relative(src, file);

describe('the architecture', () => {
  test('every import goes to the same layer or one below it', () => {
    const upward: string[] = [];
    for (const file of sourceFiles()) {
      const from = LAYERS.indexOf(layerOf(folderOf(file)));
      expect(from, `${name(file)} is in no layer`).toBeGreaterThanOrEqual(0);
      for (const imported of importsOf(file)) {
        if (LAYERS.indexOf(layerOf(folderOf(imported.file))) > from) upward.push(`${name(file)} imports ${name(imported.file)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  test('no command runs another command: nothing under src/cli imports a run* of src/cli/commands but main.ts and the register-* files', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles().filter((f) => name(f).startsWith('cli/') && !/cli\/(main|register-[a-z]+)\.ts$/.test(name(f)))) {
      for (const imported of importsOf(file)) {
        if (name(imported.file).startsWith('cli/commands/') && /\brun[A-Z]\w*/.test(imported.line.replace(/import type[^;]*/, ''))) offenders.push(`${name(file)}: ${imported.line.trim()}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test('command files are adapters of at most 250 lines, and nothing casts with `as never`', () => {
    const long = sourceFiles().filter((f) => name(f).startsWith('cli/commands/')).map((f) => [name(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 251);
    expect(long).toEqual([]);
    expect(sourceFiles().filter((f) => /\bas never\b/.test(readFileSync(f, 'utf8'))).map(name)).toEqual([]);
  });
});
