/** A manifest too large for argument spreading: every problem of 150,000 rows is reported, none lost to a RangeError. */
import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { parseManifest } from '../../src/operations/batch/manifest.js';

describe('batch manifest, large', () => {
  test('a CSV of 150,000 rows, each with a problem, reports them all (no RangeError from spreading them)', () => {
    const rows = Array.from({ length: 150_000 }, (_, i) => `u${i},,stray`);
    const { errors } = parseManifest(['user,hosts', ...rows].join('\n'), 'm.csv');
    assert.equal(errors.length, 150_000);
    assert.equal(errors[0], 'm.csv:2: cell 3 ("stray") is past the last column of the header row (2 columns)');
  });
});
