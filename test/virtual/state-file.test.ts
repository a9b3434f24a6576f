import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PivSession } from '../../src/piv/session.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { VirtualCardStateError } from '../../src/transport/virtual/state-file.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN } from './helpers.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-test-'));

describe('virtual card state file', () => {
  test('is created mode 0600, marked test-only, and a second process sees the same card', async () => {
    const file = join(scratch(), 'card.json');
    const first = await openVirtualCard({ file });
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('TEST-ONLY');
    const session = await PivSession.open(first.transport);
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const publicKey = await session.generateKey(0x9a, keyAlgorithmByName('ECCP256')!);
    await session.changePin(DEFAULT_PIN, '24681357');

    const second = await openVirtualCard({ file });
    expect(second.created).toBe(false);
    const again = await PivSession.open(second.transport);
    expect(await again.getSerial()).toBe(await session.getSerial());
    expect((await again.getSlotMetadata(0x9a)).publicKey.export({ format: 'jwk' })).toEqual(publicKey.export({ format: 'jwk' }));
    await again.verifyPin('24681357');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('security state is not persisted: a new process starts unverified', async () => {
    const file = join(scratch(), 'card.json');
    const first = await openVirtualCard({ file });
    const session = await PivSession.open(first.transport);
    await session.verifyPin(DEFAULT_PIN);
    const second = await PivSession.open((await openVirtualCard({ file })).transport);
    expect(await second.isPinVerified()).toBe(false);
  });

  test('a file that is not a card state is refused with a clear error, and left untouched', async () => {
    const dir = scratch();
    const notJson = join(dir, 'notes.txt');
    writeFileSync(notJson, 'hello');
    await expect(openVirtualCard({ file: notJson })).rejects.toThrow(/not JSON/);
    expect(readFileSync(notJson, 'utf8')).toBe('hello');
    const wrongShape = join(dir, 'other.json');
    writeFileSync(wrongShape, JSON.stringify({ format: 'piv-enroll-virtual-card/1', firmware: 'x' }));
    await expect(openVirtualCard({ file: wrongShape })).rejects.toBeInstanceOf(VirtualCardStateError);
    await expect(openVirtualCard({ file: wrongShape })).rejects.toThrow(/firmware/);
  });

  test('firmware or serial given for an existing card is an error, not silently ignored', async () => {
    const file = join(scratch(), 'card.json');
    await openVirtualCard({ file, firmware: '5.4.3', serial: 1234567 });
    await expect(openVirtualCard({ file, firmware: '5.7.2' })).rejects.toThrow(/firmware 5.4.3/);
    await expect(openVirtualCard({ file, serial: 7654321 })).rejects.toThrow(/serial 1234567/);
    await openVirtualCard({ file, firmware: '5.4.3', serial: 1234567 });
  });
});
