/** The virtual card's state file is written through an exclusive, unpredictable temporary file: nothing planted is followed or clobbered. */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseFirmwareVersion } from '../../src/standards/firmware.js';
import { newFactoryState } from '../../src/transport/virtual/card-state.js';
import { VirtualCardStateError, writeCardStateFile } from '../../src/transport/virtual/state-file.js';

const state = newFactoryState(parseFirmwareVersion('5.7.1')!, 12345678);
let directory: string;
let savedUmask: number;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'piv-enroll-state-'));
  savedUmask = process.umask(0o022);
});
afterEach(() => {
  process.umask(savedUmask);
});

describe('writeCardStateFile', () => {
  test('a symlink planted at the old predictable temporary name is not followed, and stays as it was', async () => {
    const file = join(directory, 'card.json');
    const victim = join(directory, 'victim');
    writeFileSync(victim, 'keep me\n', { mode: 0o644 });
    const planted = `${file}.${process.pid}.tmp`;
    symlinkSync(victim, planted);
    await writeCardStateFile(file, state);
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(readlinkSync(planted)).toBe(victim);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(state)));
    expect(lstatSync(file).isFile()).toBe(true);
  });

  test('a file planted at the old predictable temporary name is not clobbered', async () => {
    const file = join(directory, 'card.json');
    const planted = `${file}.${process.pid}.tmp`;
    writeFileSync(planted, 'planted\n', { mode: 0o666 });
    await writeCardStateFile(file, state);
    expect(readFileSync(planted, 'utf8')).toBe('planted\n');
    expect(JSON.parse(readFileSync(file, 'utf8')).serial).toBe(12345678);
  });

  test('the result is 0600 whatever the umask, replacing a looser file; no temporary file is left', async () => {
    const file = join(directory, 'card.json');
    writeFileSync(file, '{}', { mode: 0o644 });
    process.umask(0o000);
    await writeCardStateFile(file, state);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    process.umask(0o077);
    await writeCardStateFile(file, { ...state, serial: 7 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).serial).toBe(7);
    expect(readdirSync(directory)).toEqual(['card.json']);
  });

  test('a failed rename is a VirtualCardStateError and removes the temporary file', async () => {
    const file = join(directory, 'card.json');
    mkdirSync(join(file, 'in-the-way'), { recursive: true }); // a non-empty directory where the file should go
    await expect(writeCardStateFile(file, state)).rejects.toThrow(VirtualCardStateError);
    await expect(writeCardStateFile(file, state)).rejects.toThrow(/cannot write virtual card file .*card\.json/);
    expect(readdirSync(directory)).toEqual(['card.json']);
  });

  test('a directory that does not exist is a VirtualCardStateError', async () => {
    await expect(writeCardStateFile(join(directory, 'missing', 'card.json'), state)).rejects.toThrow(VirtualCardStateError);
  });
});
