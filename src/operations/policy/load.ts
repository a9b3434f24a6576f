/**
 * Reads a site policy file: YAML, checked against the schema below, every problem reported at once as
 * `FILE:LINE:COL: message` (the yaml package's LineCounter). Unknown keys, wrong types, unknown algorithm, policy or
 * form factor names and bad firmware versions are errors: a typo in a policy must not quietly allow what it meant to forbid.
 * Which file is in effect is resolve.ts's; it loads this module (and yaml) only when there is a file to read.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { UsageError } from '../../errors.js';
import { keyAlgorithmByName, type KeyAlgorithmName } from '../../standards/algorithms.js';
import { parseFirmwareVersion } from '../../standards/firmware.js';
import { FORM_FACTOR_OPTION_NAMES } from '../../standards/management.js';
import { parseHostSpec } from '../deploy/host-spec.js';
import { parseDistinguishedName, subjectFromTemplate } from '../distinguished-name.js';
import { KNOWN_WEAK_RULES, type KnownWeakRule, type PinPolicyWord, type SitePolicy, type TouchPolicyWord } from './types.js';

export class PolicyFileError extends UsageError {}

const PIN_POLICY_WORDS: readonly PinPolicyWord[] = ['never', 'once', 'always', 'match-once', 'match-always'];
const TOUCH_POLICY_WORDS: readonly TouchPolicyWord[] = ['never', 'always', 'cached'];
const KEY_ORIGINS = ['generated', 'imported', 'any'] as const;
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_VALID_DAYS = 36500;

const REQUIRE_KEYS = ['key-origin', 'algorithms', 'pin-policy', 'touch-policy', 'min-firmware', 'form-factors', 'fips', 'max-valid-days'] as const;
const DEFAULT_KEYS = ['ca', 'inventory', 'valid-days', 'subject'] as const;
const TOP_KEYS = ['require', 'allow-known-weak', 'defaults', 'host-groups'] as const;

/** Parses policy text; `file` only names it in messages. */
export function parsePolicy(text: string, file: string): SitePolicy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const found: Array<{ offset: number; text: string }> = [];
  const at = (offset: number | undefined, message: string) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    found.push({ offset: offset ?? 0, text: `${file}:${line}:${col}: ${message}` });
  };
  // In the file's order, whichever part of the schema found them.
  const report = () => new PolicyFileError(found.sort((a, b) => a.offset - b.offset).map((p) => p.text).join('\n'));
  const atNode = (node: Node | null | undefined, message: string) => at(node?.range?.[0], message);
  const policy: SitePolicy = { file, require: {}, allowKnownWeak: [], defaults: {}, hostGroups: {} };
  if (doc.errors.length > 0) {
    for (const error of doc.errors) at(error.pos[0], `not valid YAML: ${error.message.split('\n')[0]}`);
    throw report();
  }

  const keyOf = (pair: Pair): string | undefined => (isScalar(pair.key) ? String(pair.key.value) : undefined);
  const scalar = (node: unknown): string | undefined => (isScalar(node) && node.value !== null && typeof node.value !== 'object' ? String(node.value) : undefined);
  /** A map's pairs, each key checked against `known`. */
  const entries = <K extends string>(node: unknown, where: string, known: readonly K[]): Array<[K, Node | null, Pair]> => {
    if (!isMap(node)) {
      atNode(node as Node, `${where} must be a map (key: value)`);
      return [];
    }
    const out: Array<[K, Node | null, Pair]> = [];
    for (const pair of node.items) {
      const key = keyOf(pair);
      if (key === undefined || !(known as readonly string[]).includes(key)) {
        atNode(pair.key as Node, `unknown key "${key ?? '?'}" in ${where}: known keys are ${known.join(', ')}`);
        continue;
      }
      out.push([key as K, pair.value as Node | null, pair]);
    }
    return out;
  };
  /** A list of words (or a single word), each mapped by `word` or reported. */
  const words = <T>(node: Node | null, what: string, word: (text: string) => T | undefined, allowed: readonly string[]): T[] => {
    const items = isSeq(node) ? (node.items as Node[]) : [node];
    const out: T[] = [];
    for (const item of items) {
      const text = scalar(item);
      const value = text === undefined ? undefined : word(text);
      if (value === undefined) atNode(item ?? node, `${what} "${text ?? ''}" is not one of ${allowed.join(', ')}`);
      else out.push(value);
    }
    if (items.length === 0) atNode(node, `${what}: the list is empty (leave the key out to allow any)`);
    return out;
  };
  const days = (node: Node | null, what: string): number | undefined => {
    const text = scalar(node);
    if (text !== undefined && /^\d{1,6}$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_VALID_DAYS) return Number(text);
    atNode(node, `${what} must be a whole number of days from 1 to ${MAX_VALID_DAYS}`);
    return undefined;
  };
  const stringValue = (node: Node | null, what: string): string | undefined => {
    const value = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    if (value === undefined || value.trim() === '') atNode(node, `${what} must be a non-empty string`);
    return value;
  };

  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return policy; // an empty file: no requirements
  for (const [key, value] of entries(contents, 'the policy', TOP_KEYS)) {
    if (key === 'require') {
      for (const [field, node] of entries(value, 'require', REQUIRE_KEYS)) {
        const r = policy.require;
        if (field === 'key-origin') {
          const origin = KEY_ORIGINS.find((o) => o === scalar(node));
          if (origin === undefined) atNode(node, `key-origin "${scalar(node) ?? ''}" is not one of ${KEY_ORIGINS.join(', ')}`);
          else r.keyOrigin = origin;
        } else if (field === 'algorithms') {
          r.algorithms = words(node, 'algorithm', (t) => {
            const found = keyAlgorithmByName(t);
            return found && found.kind !== 'x25519' ? (found.name as KeyAlgorithmName) : undefined;
          }, ['RSA1024', 'RSA2048', 'RSA3072', 'RSA4096', 'ECCP256', 'ECCP384', 'ED25519']);
        } else if (field === 'pin-policy') {
          r.pinPolicies = words(node, 'pin-policy', (t) => PIN_POLICY_WORDS.find((w) => w === t.toLowerCase().replace(/_/g, '-')), PIN_POLICY_WORDS);
        } else if (field === 'touch-policy') {
          r.touchPolicies = words(node, 'touch-policy', (t) => TOUCH_POLICY_WORDS.find((w) => w === t.toLowerCase()), TOUCH_POLICY_WORDS);
        } else if (field === 'min-firmware') {
          const version = scalar(node);
          if (version === undefined || !parseFirmwareVersion(version)) atNode(node, `min-firmware "${version ?? ''}" is not a firmware version like 5.4.3`);
          else r.minFirmware = version;
        } else if (field === 'form-factors') {
          r.formFactors = words(node, 'form factor', (t) => FORM_FACTOR_OPTION_NAMES.find((n) => n === t.toLowerCase()), FORM_FACTOR_OPTION_NAMES);
        } else if (field === 'fips') {
          if (!isScalar(node) || typeof node.value !== 'boolean') atNode(node, 'fips must be true or false');
          else r.fips = node.value;
        } else {
          r.maxValidDays = days(node, 'max-valid-days');
        }
      }
    } else if (key === 'allow-known-weak') {
      policy.allowKnownWeak = words(value, 'allow-known-weak rule', (t): KnownWeakRule | undefined => KNOWN_WEAK_RULES.find((w) => w === t), KNOWN_WEAK_RULES);
    } else if (key === 'defaults') {
      for (const [field, node] of entries(value, 'defaults', DEFAULT_KEYS)) {
        if (field === 'valid-days') policy.defaults.validDays = days(node, 'valid-days');
        else if (field === 'ca') policy.defaults.ca = stringValue(node, 'ca');
        else if (field === 'inventory') policy.defaults.inventory = stringValue(node, 'inventory');
        else {
          const template = stringValue(node, 'subject');
          if (template === undefined) continue;
          try {
            parseDistinguishedName(subjectFromTemplate(template, 'user'));
            policy.defaults.subject = template;
          } catch (error) {
            if (!(error instanceof UsageError)) throw error;
            atNode(node, `subject "${template}": ${error.message}`);
          }
        }
      }
    } else {
      if (!isMap(value)) {
        atNode(value, 'host-groups must be a map of group name to a list of hosts');
        continue;
      }
      for (const pair of value.items) {
        const name = keyOf(pair);
        if (name === undefined || !GROUP_NAME.test(name)) {
          atNode(pair.key as Node, `host group name "${name ?? '?'}" must be letters, digits, '.', '_' or '-'`);
          continue;
        }
        const node = pair.value as Node | null;
        if (!isSeq(node)) {
          atNode(node ?? (pair.key as Node), `host group ${name} must be a list of [user@]host[:port]`);
          continue;
        }
        const hosts: string[] = [];
        for (const item of node.items as Node[]) {
          const spec = scalar(item);
          const parsed = spec === undefined ? { problem: 'not a string' } : parseHostSpec(spec);
          if ('problem' in parsed) atNode(item, `host group ${name}: ${parsed.problem}`);
          else hosts.push(parsed.label);
        }
        policy.hostGroups[name] = hosts;
      }
    }
  }
  if (found.length > 0) throw report();
  return policy;
}

export function loadPolicyFile(file: string): SitePolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(`cannot read the policy file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: error });
  }
  return parsePolicy(text, file);
}
