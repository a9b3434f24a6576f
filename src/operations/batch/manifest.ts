/**
 * The manifest of `piv-enroll batch --manifest FILE`: who gets a card, with which key and certificate, deployed where.
 * YAML or CSV, read into the same entries and checked completely before any card is touched: every problem is
 * reported at once, each with the line it is on, and nothing here throws for bad input.
 * Values are checked with the same validators the single-person flags use (slot, algorithm, policies, host specs,
 * principals, subject), so a manifest accepts exactly what `enroll` and `deploy` accept.
 */
import { CsvError, parse as parseCsv } from 'csv-parse/sync';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UsageError } from '../../errors.js';
import { pinPolicyName, touchPolicyName } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { checkEnrollInputs, type EnrollField, type EnrollInputText } from '../enroll/enroll-inputs.js';
import { parsePrincipals } from '../ca/certificate-options.js';
import { parseHostSpec } from '../deploy/host-spec.js';
import { parseDistinguishedName } from '../distinguished-name.js';
import { expandHostGroups } from '../policy/host-groups.js';
import type { SitePolicy } from '../policy/types.js';

export interface ManifestEntry {
  /** 1-based line where this person's entry starts in the manifest. */
  line: number;
  user: string;
  /** RFC 4514, as written; absent means the caller's default (CN=<user>). */
  subject?: string;
  principals?: string[];
  /**
   * Host specs, normalized like `parseHostSpec` labels them; each kept once; [] when none. A `@GROUP` of the site
   * policy's host-groups is already expanded here, in its place.
   */
  hosts: string[];
  /** A CA directory (not checked for existence here). */
  ca?: string;
  /** Lower-case hex, e.g. '9c'. */
  slot: string;
  /** Canonical name, e.g. 'ECCP256'. */
  algorithm: string;
  /** Lower-case, e.g. 'match-once'. */
  pinPolicy?: string;
  /** Lower-case, e.g. 'cached'. */
  touchPolicy?: string;
  keySource?: 'host' | 'card';
  validDays?: number;
  cardSerial?: number;
}

export interface ParsedManifest {
  /** Every person whose own values are valid; use them only when `errors` is empty. */
  entries: ManifestEntry[];
  /** `${fileName}:${line}: ${problem}`, in line order. */
  errors: string[];
}

export const DEFAULT_MANIFEST_SLOT = '9c';
export const DEFAULT_MANIFEST_ALGORITHM = 'RSA2048';
const MAX_CARD_SERIAL = 0xffffffff;

const FIELDS = [
  'user', 'subject', 'principals', 'hosts', 'ca', 'slot', 'algorithm',
  'pin-policy', 'touch-policy', 'key-source', 'valid-days', 'card-serial',
] as const;
type Field = (typeof FIELDS)[number];
const LIST_FIELDS: readonly Field[] = ['principals', 'hosts'];


interface Problem {
  line: number;
  text: string;
}

interface Item {
  text: string;
  line: number;
}

/** A value as the file gave it, before checking: one text, or a list (YAML lists, split cells). */
type RawValue = { line: number; text: string } | { line: number; items: Item[] };

interface RawEntry {
  line: number;
  fields: Map<Field, RawValue>;
  /** The reader already reported a problem inside this person (an unknown key, a stray cell, …). */
  flawed: boolean;
}

interface ReadManifest {
  entries: RawEntry[];
  problems: Problem[];
  /** Where "no people" is reported when the file is readable but names nobody; undefined when it is unreadable. */
  emptyLine: number | undefined;
  /** False when a CSV header has no user column (reported once there, not on every row). */
  hasUserField: boolean;
}

function policyWord(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

function camelCase(field: Field): string {
  return field.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** A key or column name → its field: kebab-case as documented, or the camelCase equivalent. */
function fieldNamed(name: string): Field | undefined {
  return FIELDS.find((field) => field === name || camelCase(field) === name);
}

const ALLOWED_KEYS = FIELDS.join(', ');

function splitList(text: string, separators: RegExp, line: number): Item[] {
  return text.split(separators).map((part) => part.trim()).filter((part) => part !== '').map((part) => ({ text: part, line }));
}

// ---------------------------------------------------------------------------------------------------------------
// Format

type Format = 'yaml' | 'csv';

function firstContentLine(text: string): { text: string; line: number } | undefined {
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/);
  const index = lines.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  return index < 0 ? undefined : { text: lines[index]!, line: index + 1 };
}

/** By the file name; otherwise by the first line that is not a comment. */
function formatOf(text: string, fileName: string): Format | Problem {
  if (/\.ya?ml$/i.test(fileName)) return 'yaml';
  if (/\.csv$/i.test(fileName)) return 'csv';
  const first = firstContentLine(text);
  if (first === undefined) return 'yaml';
  const line = first.text.trim();
  if (/^(-(\s|$)|---|%YAML|\[|\{|people\s*:)/.test(line)) return 'yaml';
  if (line.includes(',') && /\buser\b/i.test(line)) return 'csv';
  if (/^[A-Za-z_][\w-]*\s*:(\s|$)/.test(line)) return 'yaml';
  return {
    line: first.line,
    text: 'cannot tell whether the manifest is YAML or CSV: name the file .yaml or .csv (a CSV starts with a header row such as "user,hosts")',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// YAML

function readYaml(text: string): ReadManifest {
  const lineCounter = new LineCounter();
  // Duplicate keys are reported below, with both lines and the camelCase spelling counted as the same key.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const lineOf = (node: Node) => lineAt(node.range?.[0] ?? 0);
  const result: ReadManifest = { entries: [], problems: [], emptyLine: undefined, hasUserField: true };
  const problem = (line: number, message: string) => result.problems.push({ line, text: message });

  if (doc.errors.length > 0) {
    // The rest of a document with a syntax error cannot be trusted: report only where the syntax breaks.
    const seen = new Set<number>();
    for (const error of doc.errors) {
      const line = lineAt(error.pos[0]);
      if (!seen.has(line)) problem(line, `this is not valid YAML: ${error.message}`);
      seen.add(line);
    }
    return result;
  }

  const resolve = (node: unknown): Node | null => {
    if (isAlias(node)) return node.resolve(doc as Document) ?? null;
    return (node as Node | null) ?? null;
  };
  const isNull = (node: Node | null) => node === null || (isScalar(node) && node.value === null);
  const scalarText = (node: Node): string | undefined => (isScalar(node) ? (node.source ?? String(node.value)) : undefined);

  let people = resolve(doc.contents);
  let peopleLine = 1;
  if (isMap(people)) {
    const top = people;
    people = null;
    let found = false;
    for (const pair of top.items) {
      const key = resolve(pair.key);
      const keyLine = key ? lineOf(key) : lineOf(top);
      if (key && scalarText(key) === 'people') {
        found = true;
        peopleLine = keyLine;
        people = resolve(pair.value);
      } else {
        problem(keyLine, `unknown top-level key "${key ? (scalarText(key) ?? '?') : ''}": the manifest is a list of people, either at the top or under "people:"`);
      }
    }
    if (!found) {
      problem(lineOf(top), 'the manifest has no "people:" key: list the people under it, or make the whole file a list');
      return result;
    }
  }
  if (isNull(people)) {
    result.emptyLine = peopleLine;
    return result;
  }
  if (!isSeq(people)) {
    problem(lineOf(people!), 'the manifest must be a list of people ("- user: ana"), at the top or under "people:"');
    return result;
  }
  result.emptyLine = peopleLine;

  for (const itemNode of people.items) {
    const item = resolve(itemNode);
    if (!isMap(item)) {
      const line = item ? lineOf(item) : lineOf(people);
      problem(line, 'each person is a mapping of keys such as "- user: ana", not a single value or a list');
      continue;
    }
    const entry: RawEntry = { line: lineOf(item), fields: new Map(), flawed: false };
    result.entries.push(entry);
    const flaw = (line: number, message: string) => {
      problem(line, message);
      entry.flawed = true;
    };
    const keyLines = new Map<Field, number>();
    for (const pair of item.items) {
      const key = resolve(pair.key);
      const keyLine = key ? lineOf(key) : entry.line;
      const name = key ? scalarText(key) : undefined;
      const field = name === undefined ? undefined : fieldNamed(name);
      if (field === undefined) {
        flaw(keyLine, `unknown key "${name ?? ''}": the keys are ${ALLOWED_KEYS}`);
        continue;
      }
      const earlier = keyLines.get(field);
      if (earlier !== undefined) {
        flaw(keyLine, `${field} is given twice (also on line ${earlier})`);
        continue;
      }
      keyLines.set(field, keyLine);
      const value = resolve(pair.value);
      if (isNull(value)) continue;
      if (isScalar(value)) {
        const text = scalarText(value)!.trim();
        if (text === '') continue;
        const split = field === 'hosts' ? /[\s,]+/ : field === 'principals' ? /,/ : undefined;
        entry.fields.set(field, split ? { line: keyLine, items: splitList(text, split, lineOf(value)) } : { line: keyLine, text });
      } else if (isSeq(value)) {
        const items: Item[] = [];
        for (const elementNode of value.items) {
          const element = resolve(elementNode);
          if (isNull(element)) continue;
          const text = scalarText(element!);
          if (text === undefined) flaw(lineOf(element!), `${field} lists single values, not mappings or lists`);
          else if (text.trim() !== '') items.push({ text: text.trim(), line: lineOf(element!) });
        }
        entry.fields.set(field, { line: keyLine, items });
      } else {
        flaw(keyLine, `${field} takes ${LIST_FIELDS.includes(field) ? 'a list or a single value' : 'a single value'}, not a mapping`);
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

interface CsvRow {
  cells: string[];
  /** The physical line the record starts on. */
  line: number;
}

const newlinesIn = (cells: string[]) => cells.reduce((count, cell) => count + (cell.match(/\n/g)?.length ?? 0), 0);

function readCsv(text: string): ReadManifest {
  // One line ending throughout, so csv-parse's line count and the newlines inside quoted cells agree.
  const normalized = text.replace(/\r\n/g, '\n');
  const result: ReadManifest = { entries: [], problems: [], emptyLine: undefined, hasUserField: true };
  let lastRecordEnd = 0;
  let rows: CsvRow[];
  try {
    rows = parseCsv(normalized, {
      bom: true,
      comment: '#',
      comment_no_infix: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      relax_column_count: true,
      relax_quotes: true,
      // `lines` is where the record ends; a quoted cell spanning lines puts its start that many lines earlier.
      on_record: (cells: string[], context: { lines: number }): CsvRow => {
        lastRecordEnd = context.lines;
        return { cells, line: context.lines - newlinesIn(cells) };
      },
    }) as CsvRow[];
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
      // The broken record starts at the first line after the last good one that is neither blank nor a comment.
      const lines = normalized.split('\n');
      let start = lastRecordEnd;
      while (start < lines.length && (lines[start]!.trim() === '' || lines[start]!.startsWith('#'))) start++;
      result.problems.push({ line: start + 1, text: 'a quoted cell is never closed: a " opens it and the file ends before the closing "' });
    } else {
      const line = (error as CsvError & { lines?: number }).lines ?? lastRecordEnd + 1;
      result.problems.push({ line, text: `this is not valid CSV: ${error.message}` });
    }
    return result;
  }

  const [header, ...records] = rows;
  result.emptyLine = header?.line ?? 1;
  if (header === undefined) return result;

  // One field per column; undefined for a column that is reported (unknown, repeated) or unnamed.
  const columns: Array<Field | undefined> = [];
  const unnamed = new Set<number>();
  header.cells.forEach((cell, index) => {
    const name = cell.trim();
    const field = fieldNamed(name);
    if (name === '') unnamed.add(index);
    else if (field === undefined) result.problems.push({ line: header.line, text: `unknown column "${name}": the header row names columns from ${ALLOWED_KEYS}` });
    else if (columns.includes(field)) result.problems.push({ line: header.line, text: `column ${field} appears twice in the header row` });
    columns.push(field !== undefined && !columns.includes(field) ? field : undefined);
  });
  if (!columns.includes('user')) {
    result.hasUserField = false;
    result.problems.push({ line: header.line, text: `the header row has no user column: it names the columns, user and any of ${ALLOWED_KEYS}` });
  }

  for (const row of records) {
    const entry: RawEntry = { line: row.line, fields: new Map(), flawed: false };
    result.entries.push(entry);
    const flaw = (message: string) => {
      result.problems.push({ line: row.line, text: message });
      entry.flawed = true;
    };
    row.cells.forEach((raw, index) => {
      const cell = raw.trim();
      if (cell === '') return;
      if (index >= header.cells.length) {
        flaw(`cell ${index + 1} ("${cell}") is past the last column of the header row (${header.cells.length} columns)`);
        return;
      }
      if (unnamed.has(index)) {
        flaw(`cell ${index + 1} ("${cell}") is in a column with no name in the header row`);
        return;
      }
      const field = columns[index];
      if (field === undefined) return;
      entry.fields.set(field, LIST_FIELDS.includes(field) ? { line: row.line, items: splitList(cell, /[\s;]+/, row.line) } : { line: row.line, text: cell });
    });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Checking one person

interface CheckedEntry {
  /** Present when every value of the person is valid. */
  entry?: ManifestEntry;
  /** Valid user and card serial even when something else is not, for the checks across people. */
  user?: Item;
  cardSerial?: { value: number; line: number };
  problems: Problem[];
}

function checkEntry(raw: RawEntry, requireUser: boolean, policy: SitePolicy | undefined): CheckedEntry {
  const problems: Problem[] = [];
  const checked: CheckedEntry = { problems };
  const problem = (line: number, text: string) => problems.push({ line, text });

  /** A single value; a list is a problem. */
  const single = (field: Field): Item | undefined => {
    const value = raw.fields.get(field);
    if (value === undefined) return undefined;
    if ('items' in value) {
      problem(value.line, `${field} takes a single value, not a list`);
      return undefined;
    }
    return { text: value.text, line: value.line };
  };
  const list = (field: Field): { items: Item[]; line: number } | undefined => {
    const value = raw.fields.get(field);
    if (value === undefined) return undefined;
    return 'items' in value ? value : { items: [{ text: value.text, line: value.line }], line: value.line };
  };
  const entry: Partial<ManifestEntry> = { line: raw.line };

  const user = single('user');
  if (user === undefined) {
    if (requireUser && !raw.fields.has('user')) problem(raw.line, 'user is missing: each person needs a user name');
  } else if (/[\s\p{C}]/u.test(user.text)) {
    problem(user.line, `user ${JSON.stringify(user.text)} must not contain spaces or control characters`);
  } else if (/[/\\]/.test(user.text) || user.text === '.' || user.text === '..') {
    // The name becomes a directory under --out: it must stay one.
    problem(user.line, `user ${JSON.stringify(user.text)} must not contain / or \\, nor be . or ..`);
  } else {
    entry.user = user.text;
    checked.user = user;
  }

  const subject = single('subject');
  if (subject !== undefined) {
    try {
      parseDistinguishedName(subject.text);
      entry.subject = subject.text;
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problem(subject.line, `subject "${subject.text}" is not usable: ${error.message}`);
    }
  }

  const principals = list('principals');
  if (principals !== undefined) {
    try {
      entry.principals = parsePrincipals(principals.items.map((item) => item.text).join(','));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problem(principals.line, 'principals is empty: give the user names the certificate is valid for');
    }
  }

  const hosts: string[] = [];
  for (const item of list('hosts')?.items ?? []) {
    if (item.text.startsWith('@')) {
      // The same expansion and messages as `enroll --deploy-to @GROUP`; the group's hosts were checked with the policy.
      const unknown: string[] = [];
      for (const host of expandHostGroups([item.text], policy, unknown)) if (!hosts.includes(host)) hosts.push(host);
      for (const text of unknown) problem(item.line, `hosts: ${text}`);
      continue;
    }
    const target = parseHostSpec(item.text);
    if ('problem' in target) problem(item.line, `hosts: ${target.problem}`);
    else if (!hosts.includes(target.label)) hosts.push(target.label);
  }
  entry.hosts = hosts;

  const ca = single('ca');
  if (ca !== undefined) entry.ca = ca.text;

  // The same validator as enroll's flags and wizard (enroll-inputs.ts): the same value gets the same message.
  const given = { slot: single('slot'), algorithm: single('algorithm'), 'pin-policy': single('pin-policy'), 'touch-policy': single('touch-policy'), 'key-source': single('key-source'), 'valid-days': single('valid-days') };
  const text: EnrollInputText = {};
  for (const [field, cell] of Object.entries(given) as Array<[EnrollField, Item | undefined]>) if (cell !== undefined) text[field] = cell.text;
  const bad = new Set<EnrollField>();
  const values = checkEnrollInputs(text, (field, message) => {
    bad.add(field);
    problem(given[field as keyof typeof given]!.line, message);
  });
  if (!bad.has('slot')) entry.slot = slotHex(values.slot).toLowerCase();
  if (!bad.has('algorithm')) entry.algorithm = values.algorithm.name;
  if (given['pin-policy'] && !bad.has('pin-policy')) entry.pinPolicy = policyWord(pinPolicyName(values.pinPolicy));
  if (given['touch-policy'] && !bad.has('touch-policy')) entry.touchPolicy = policyWord(touchPolicyName(values.touchPolicy));
  if (given['key-source'] && !bad.has('key-source')) entry.keySource = values.keySource;
  if (given['valid-days'] && !bad.has('valid-days')) entry.validDays = values.validDays;

  const cardSerial = single('card-serial');
  if (cardSerial !== undefined) {
    const serial = /^\d{1,10}$/.test(cardSerial.text) ? Number(cardSerial.text) : NaN;
    if (!(serial >= 1 && serial <= MAX_CARD_SERIAL)) problem(cardSerial.line, `card-serial "${cardSerial.text}" is not a whole number from 1 to ${MAX_CARD_SERIAL}`);
    else {
      entry.cardSerial = serial;
      checked.cardSerial = { value: serial, line: cardSerial.line };
    }
  }

  if (problems.length === 0 && !raw.flawed && entry.user !== undefined) checked.entry = orderedEntry(entry as ManifestEntry);
  return checked;
}

/** The same key order whatever the file's order, and no keys for values not given. */
function orderedEntry(entry: ManifestEntry): ManifestEntry {
  const { line, user, subject, principals, hosts, ca, slot, algorithm, pinPolicy, touchPolicy, keySource, validDays, cardSerial } = entry;
  return {
    line,
    user,
    ...(subject !== undefined && { subject }),
    ...(principals !== undefined && { principals }),
    hosts,
    ...(ca !== undefined && { ca }),
    slot,
    algorithm,
    ...(pinPolicy !== undefined && { pinPolicy }),
    ...(touchPolicy !== undefined && { touchPolicy }),
    ...(keySource !== undefined && { keySource }),
    ...(validDays !== undefined && { validDays }),
    ...(cardSerial !== undefined && { cardSerial }),
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** Reads and checks a whole manifest; `fileName` chooses the format (.yaml/.yml, .csv) and labels the errors. */
export interface ManifestContext {
  /** The site policy in effect, whose host-groups `@GROUP` in a hosts field names; without one, `@GROUP` is a problem. */
  policy?: SitePolicy;
}

export function parseManifest(text: string, fileName: string, context: ManifestContext = {}): ParsedManifest {
  const format = formatOf(text, fileName);
  const problems: Problem[] = [];
  const entries: ManifestEntry[] = [];
  if (typeof format !== 'string') problems.push(format);
  else {
    const read = format === 'yaml' ? readYaml(text) : readCsv(text);
    // One by one, not push(...list): a manifest of 150,000 bad rows has more problems than a call takes arguments.
    for (const problem of read.problems) problems.push(problem);
    const userLines = new Map<string, number>();
    const serialLines = new Map<number, number>();
    for (const raw of read.entries) {
      const checked = checkEntry(raw, read.hasUserField, context.policy);
      for (const problem of checked.problems) problems.push(problem);
      if (checked.entry) entries.push(checked.entry);
      const { user, cardSerial } = checked;
      if (user !== undefined) {
        const first = userLines.get(user.text);
        if (first === undefined) userLines.set(user.text, user.line);
        else problems.push({ line: user.line, text: `user "${user.text}" also on line ${first}` });
      }
      if (cardSerial !== undefined) {
        const first = serialLines.get(cardSerial.value);
        if (first === undefined) serialLines.set(cardSerial.value, cardSerial.line);
        else problems.push({ line: cardSerial.line, text: `card-serial ${cardSerial.value} also on line ${first}` });
      }
    }
    if (read.entries.length === 0 && read.emptyLine !== undefined) problems.push({ line: read.emptyLine, text: 'no people in the manifest' });
  }
  // Array.prototype.sort is stable: problems on one line keep the order they were found in.
  problems.sort((a, b) => a.line - b.line);
  return { entries, errors: problems.map((p) => `${fileName}:${p.line}: ${p.text}`) };
}
