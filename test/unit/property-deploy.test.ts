/**
 * Property tests of the deploy inputs: host specs ([user@]host[:port], hosts files) and authorized_keys lines.
 * Host specs never throw (a bad one is a problem to report); key lines are refused only with UsageError.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { publicKeyBlob } from '../../src/operations/ca/key-blob.js';
import { hostsFileSpecs, parseHostSpec, parseHostSpecs } from '../../src/operations/deploy/host-spec.js';
import { blobFingerprint, readPublicKeyLine, splitKeyLine } from '../../src/operations/deploy/key-line.js';
import { anyText, mutatedText, refusedOnlyWith } from './property-helpers.js';

const chars = (alphabet: string, minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });
const ALNUM = 'abcxyzABZ0129_';
const user = fc.tuple(chars(`${ALNUM}.`, 1, 1), chars(`${ALNUM}.-`, 0, 8)).map(([a, b]) => a + b);
const hostname = fc.tuple(chars(ALNUM, 1, 1), chars(`${ALNUM}.-`, 0, 12)).map(([a, b]) => a + b);
const ipv6 = fc.oneof(fc.ipV6(), fc.tuple(fc.ipV6(), chars(`${ALNUM}.-`, 1, 6)).map(([ip, zone]) => `${ip}%${zone}`));
const target = fc.record({ user: fc.option(user, { nil: undefined }), host: fc.oneof(hostname, ipv6), port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) });
const specOf = (t: { user?: string; host: string; port?: number }) =>
  `${t.user !== undefined ? `${t.user}@` : ''}${t.host.includes(':') ? `[${t.host}]` : t.host}${t.port !== undefined ? `:${t.port}` : ''}`;
const validSpec = target.map(specOf);

describe('host specs (properties)', () => {
  test('a spec written from its parts parses back to them, and its label is the spec itself', () => {
    fc.assert(
      fc.property(target, fc.constantFrom('', ' ', '\t '), (t, blank) => {
        const spec = specOf(t);
        assert.deepStrictEqual(parseHostSpec(`${blank}${spec}${blank}`), { user: t.user, host: t.host, port: t.port, label: spec });
      }),
      { numRuns: 8000 },
    );
  });

  test('any text gives a target whose label parses to the same target, or a problem quoting the text; never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(anyText(30), mutatedText(validSpec)), (text) => {
        const parsed = parseHostSpec(text);
        if ('problem' in parsed) {
          assert.ok(parsed.problem.startsWith(`"${text}" is not [user@]host[:port]: `));
          return;
        }
        assert.deepStrictEqual(parseHostSpec(parsed.label), parsed);
        assert.ok(!parsed.host.startsWith('-') && !(parsed.user ?? '').startsWith('-'), 'nothing that ssh would read as an option');
      }),
      { numRuns: 12000 },
    );
  });

  test('hosts files of any text give trimmed specs with their line numbers, and the specs check without throwing', () => {
    const file = fc.array(fc.oneof(anyText(20), validSpec, validSpec.map((s) => `${s} # comment`), fc.constant('# only a comment')), { maxLength: 8 }).map((lines) => lines.join('\n'));
    fc.assert(
      fc.property(fc.oneof(file, mutatedText(file)), (text) => {
        const specs = hostsFileSpecs(text, 'hosts');
        for (const spec of specs) {
          assert.ok(spec.text !== '' && spec.text === spec.text.trim());
          assert.match(spec.where, /^hosts:\d+$/);
        }
        const { targets, problems } = parseHostSpecs(specs);
        assert.equal(new Set(targets.map((t) => t.label)).size, targets.length);
        assert.ok(targets.length + problems.length <= specs.length);
      }),
      { numRuns: 6000 },
    );
  });
});

const keys = [generateKeyPairSync('ed25519'), generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('rsa', { modulusLength: 1024 })].map((pair) => {
  const blob = Buffer.from(publicKeyBlob(pair.publicKey));
  return { type: blob.subarray(4, 4 + blob.readUInt32BE(0)).toString(), blob: blob.toString('base64') };
});
const comment = fc.option(chars('abc xyz@.-_', 1, 16).map((c) => c.trim()).filter((c) => c !== '' && !/\s\s/.test(c)), { nil: undefined });
const options = fc.option(fc.constantFrom('restrict', 'no-pty,from="10.0.0.1"', 'command="echo \\"hi there\\"",no-agent-forwarding', 'environment="A=b c"'), { nil: undefined });
const keyLine = fc.record({ key: fc.constantFrom(...keys), options, comment }).map(({ key, options, comment }) => ({ key, options, comment, line: [options, key.type, key.blob, comment].filter((p) => p !== undefined).join(' ') }));

describe('authorized_keys lines (properties)', () => {
  test('a line written from options, type, blob and comment splits back into them, and reads with the blob\'s fingerprint', () => {
    fc.assert(
      fc.property(keyLine, fc.constantFrom('', ' ', '\t', '\r'), ({ key, options, comment, line }, tail) => {
        assert.deepStrictEqual(splitKeyLine(`  ${line}${tail}`), { line, ...(options !== undefined && { options }), type: key.type, blob: key.blob, comment });
        const read = readPublicKeyLine(`# a comment\n${line}\n`, 'the file');
        assert.equal(read.fingerprint, blobFingerprint(key.blob));
      }),
      { numRuns: 4000 },
    );
  });

  test('any text and mutated lines: splitKeyLine never throws, readPublicKeyLine refuses only with UsageError', () => {
    fc.assert(
      fc.property(fc.oneof(anyText(60), mutatedText(keyLine.map((k) => k.line))), (text) => {
        const split = splitKeyLine(text);
        if (split) assert.match(split.blob, /^[A-Za-z0-9+/]+={0,2}$/);
        const read = refusedOnlyWith([UsageError], () => readPublicKeyLine(text, 'the file'));
        if (read) assert.equal(read.fingerprint, blobFingerprint(read.blob));
      }),
      { numRuns: 10000 },
    );
  });
});
