/** Shared pieces of the property tests (test/unit/property-*.test.ts): mutations of valid inputs, and the typed-error check. */
import fc from 'fast-check';

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `parse`; an error of one of `allowed` (the parser's typed errors) is a refusal and gives undefined.
 * Anything else (TypeError, RangeError, SyntaxError, a library's own error) is rethrown: the property fails on it.
 */
export function refusedOnlyWith<T>(allowed: readonly ErrorClass[], parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (allowed.some((kind) => error instanceof kind)) return undefined;
    throw error;
  }
}

type Edit = { kind: 'set' | 'insert' | 'delete'; at: number; value: number } | { kind: 'truncate'; at: number; value: number };

const edits = fc.array(
  fc.record({ kind: fc.constantFrom('set', 'insert', 'delete', 'truncate') as fc.Arbitrary<Edit['kind']>, at: fc.nat(), value: fc.nat({ max: 0xff }) }),
  { minLength: 1, maxLength: 6 },
);

function applyEdits<T>(items: T[], list: Edit[], valueOf: (n: number) => T): T[] {
  const out = [...items];
  for (const edit of list) {
    const at = out.length === 0 ? 0 : edit.at % (out.length + (edit.kind === 'insert' ? 1 : 0));
    if (edit.kind === 'set' && out.length > 0) out[at] = valueOf(edit.value);
    else if (edit.kind === 'insert') out.splice(at, 0, valueOf(edit.value));
    else if (edit.kind === 'delete') out.splice(at, 1);
    else if (edit.kind === 'truncate') out.length = at;
  }
  return out;
}

/** A valid byte string with a few bytes set, inserted or deleted, or cut short. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, edits).map(([bytes, list]) => Uint8Array.from(applyEdits([...bytes], list, (n) => n)));
}

/** Characters that matter to the text formats here: structure, quotes, blanks, line ends, and a few non-ASCII. */
const INTERESTING = ` \t\n\r,;:#-"'[]{}@=\\/|>&*!%?.0aZ\u0000\u00e9\u2028\ufeff\ud800`;

/** A valid text with a few characters set, inserted or deleted, or cut short. */
export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(valid, edits).map(([text, list]) => applyEdits([...text], list, (n) => INTERESTING[n % INTERESTING.length]!).join(''));
}

/** Text of any characters, weighted towards the ones the formats use. */
export const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: fc.constantFrom(...INTERESTING), maxLength }),
    fc.string({ unit: 'binary', maxLength }),
  );
