/**
 * The unit project's tests never reach the user's own state: a command called in process with `env: {}` resolves its
 * default inventory and stand-in card through os.homedir(), which test/support/private-home.ts points at a temporary
 * directory per test file.
 */
import { tmpdir, userInfo } from 'node:os';
import { describe, expect, test } from 'vitest';
import { defaultInventoryLocation } from '../../src/operations/inventory/inventory.js';
import { defaultVirtualCardFile } from '../../src/operations/open-card.js';

describe('test isolation', () => {
  test('an empty environment finds the default inventory and virtual card under a temporary home, not the account home', () => {
    const accountHome = userInfo().homedir; // from the password database, whatever $HOME says
    for (const location of [defaultInventoryLocation({}), defaultVirtualCardFile({}), defaultInventoryLocation({ ...process.env, PIV_ENROLL_INVENTORY: '' })]) {
      expect(location.startsWith(`${tmpdir()}/piv-enroll-test-home-`), location).toBe(true);
      expect(location.startsWith(`${accountHome}/`), location).toBe(false);
    }
  });
});
