import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    // Card-level tests generate RSA keys; give them room on a two-core machine.
    testTimeout: 60_000,
    // Commands record into the inventory by default (~/.local/state); tests name theirs, or record nowhere.
    // A site policy in /etc/piv-enroll/policy.yaml would change what the commands allow: tests name theirs, or none.
    env: { PIV_ENROLL_INVENTORY: 'none', PIV_ENROLL_POLICY: 'none' },
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // A home and state directory per test file (test/support/private-home.ts): never the user's inventory.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/virtual/**/*.test.ts'], setupFiles: ['test/support/private-home.ts'] },
      },
      {
        extends: true,
        // Real OpenSSH (sshd, ssh, ssh-keygen) without a card: sshd instances on their own loopback ports, so files may run in parallel.
        test: { name: 'ssh', include: ['test/ssh/**/*.test.ts'], testTimeout: 120_000 },
      },
      {
        extends: true,
        // A real PostgreSQL (Debian's package) started by the tests, for the shared inventory.
        test: { name: 'database', include: ['test/database/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
      {
        extends: true,
        test: {
          name: 'real-stack',
          include: ['test/real-stack/**/*.test.ts'],
          // One pcscd, one set of vpcd ports: these files must not run at the same time.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          globalSetup: ['test/real-stack/global-setup.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
