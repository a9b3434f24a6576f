/**
 * Property tests of the batch manifest parser (YAML and CSV): it never throws, whatever the text (every problem is
 * a line of `errors`), and people written to either format come back as the same entries.
 */
import assert from 'node:assert/strict';
import { stringify as csvStringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { stringify as yamlStringify } from 'yaml';
import { parseManifest, type ManifestEntry } from '../../src/operations/batch/manifest.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { anyText, mutatedText } from './property-helpers.js';

const chars = (alphabet: string, minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });
const word = (name: string) => name.toLowerCase().replace(/_/g, '-');
const name = chars('abcdefxyz0123_-', 1, 8).filter((n) => !n.startsWith('-'));
const hostSpec = fc.tuple(fc.option(name, { nil: undefined }), chars('abcxyz019', 1, 6), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(
  ([user, host, port]) => `${user !== undefined ? `${user}@` : ''}${host}${port !== undefined ? `:${port}` : ''}`,
);
const SLOTS = ['9a', '9c', '9d', '9e', ...Array.from({ length: 20 }, (_, i) => (0x82 + i).toString(16))];

type Person = Omit<ManifestEntry, 'line'>;
const person: fc.Arbitrary<Person> = fc
  .record(
    {
      subject: name.map((n) => `CN=${n}`),
      principals: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
      hosts: fc.uniqueArray(hostSpec, { maxLength: 3 }),
      ca: name.map((n) => `/srv/ca-${n}`),
      slot: fc.constantFrom(...SLOTS),
      algorithm: fc.constantFrom('RSA1024', 'RSA2048', 'RSA3072', 'RSA4096', 'ECCP256', 'ECCP384', 'ED25519'),
      pinPolicy: fc.constantFrom(...Object.keys(PIN_POLICY).map(word)),
      touchPolicy: fc.constantFrom(...Object.keys(TOUCH_POLICY).map(word)),
      keySource: fc.constantFrom('host' as const, 'card' as const),
      validDays: fc.integer({ min: 1, max: 36500 }),
      cardSerial: fc.integer({ min: 1, max: 0xffffffff }),
    },
    { requiredKeys: ['slot', 'algorithm', 'hosts'] },
  )
  .map((p) => p as Omit<Person, 'user'>) as unknown as fc.Arbitrary<Person>;
const people = fc
  .tuple(fc.uniqueArray(name.filter((n) => n !== '.' && n !== '..'), { minLength: 1, maxLength: 5 }), fc.array(person, { minLength: 5, maxLength: 5 }))
  .map(([users, rest]) => {
    const seen = new Set<number>();
    return users.map((user, i) => {
      const p = { ...rest[i]!, user };
      if (p.cardSerial !== undefined && seen.has(p.cardSerial)) delete p.cardSerial;
      if (p.cardSerial !== undefined) seen.add(p.cardSerial);
      return p;
    });
  });

const FIELD_OF: Record<string, keyof Person> = {
  user: 'user', subject: 'subject', principals: 'principals', hosts: 'hosts', ca: 'ca', slot: 'slot', algorithm: 'algorithm',
  'pin-policy': 'pinPolicy', 'touch-policy': 'touchPolicy', 'key-source': 'keySource', 'valid-days': 'validDays', 'card-serial': 'cardSerial',
};
function asYaml(list: Person[]): string {
  const rows = list.map((p) => Object.fromEntries(Object.entries(FIELD_OF).filter(([, key]) => p[key] !== undefined && !(key === 'hosts' && p.hosts.length === 0)).map(([column, key]) => [column, p[key]])));
  return yamlStringify({ people: rows });
}
function asCsv(list: Person[]): string {
  const cell = (value: unknown) => (value === undefined ? '' : Array.isArray(value) ? value.join(';') : String(value));
  return csvStringify([Object.keys(FIELD_OF), ...list.map((p) => Object.values(FIELD_OF).map((key) => cell(p[key])))]);
}
const canonical = (p: Person): Person => Object.fromEntries(Object.values(FIELD_OF).filter((key) => p[key] !== undefined).map((key) => [key, p[key]])) as unknown as Person;
const withoutLines = (entries: ManifestEntry[]): Person[] => entries.map(({ line: _line, ...rest }) => canonical(rest));

/** Never throws; every error names the file and a line; entries only for people without problems. */
function checkAnyManifest(text: string, fileName: string): void {
  const { entries, errors } = parseManifest(text, fileName);
  for (const error of errors) assert.ok(error.startsWith(`${fileName}:`) && /^[^:]+:\d+: \S/.test(error), error);
  for (const entry of entries) {
    assert.match(entry.slot, /^[0-9a-f]{2}$/);
    assert.ok(entry.line >= 1);
  }
}

describe('batch manifest (properties)', () => {
  test('a slot named like an Object.prototype member is refused, not taken for a slot (found by the properties below)', () => {
    for (const slot of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.deepStrictEqual(parseManifest(`- user: b\n  slot: ${slot}\n`, 'm.yaml').errors, [`m.yaml:2: slot "${slot}" is not one of 9a, 9c, 9d, 9e, 82–95 (or authentication, signature, key-management, card-authentication)`]);
    }
  });

  test('people written as YAML or as CSV parse back to the same entries, without errors', () => {
    fc.assert(
      fc.property(people, (list) => {
        const expected = list.map(canonical);
        for (const [text, fileName] of [[asYaml(list), 'people.yaml'], [asCsv(list), 'people.csv']] as const) {
          const parsed = parseManifest(text, fileName);
          assert.deepStrictEqual(parsed.errors, [], text);
          assert.deepStrictEqual(withoutLines(parsed.entries), expected);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('mutated YAML and CSV manifests never throw', () => {
    const texts = fc.oneof(people.map(asYaml), people.map(asCsv));
    fc.assert(
      fc.property(mutatedText(texts), fc.constantFrom('m.yaml', 'm.csv', 'manifest'), (text, fileName) => checkAnyManifest(text, fileName)),
      { numRuns: 2000 },
    );
  });

  test('any text, and lines of manifest-like pieces, never throw', () => {
    const piece = fc.constantFrom('people:', '- user: a', '  - user: b', '    slot: constructor', '    hosts: [a, "-x"]', 'user,hosts,slot', 'a,"b', '&a x', '*a', '---', '? x', '- [1, 2]', '  principals: {a: 1}', 'u,"x\ny"', '# c', '    valid-days: 1e3');
    const lines = fc.array(fc.oneof(piece, anyText(12)), { maxLength: 8 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(fc.oneof(anyText(80), lines), fc.constantFrom('m.yaml', 'm.csv', 'manifest'), (text, fileName) => checkAnyManifest(text, fileName)),
      { numRuns: 8000 },
    );
  });
});
