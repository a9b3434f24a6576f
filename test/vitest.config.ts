import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Card-level tests generate RSA keys; give them room on a two-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
