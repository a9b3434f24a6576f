/**
 * Critical options and extensions of a user certificate, from the words an admin types.
 * Extensions work like `ssh-keygen -O`: the five permit-* are on by default, `clear` removes them all,
 * `no-pty` (and the like) removes one, `permit-pty` or `name@domain[=value]` adds one.
 * Critical options are limited to those OpenSSH knows, because sshd refuses a certificate with any other.
 */
import { UsageError } from '../../errors.js';
import type { CertificateOption } from './certificate.js';

export const DEFAULT_EXTENSIONS: readonly string[] = [
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
];
/** Extensions OpenSSH itself defines (flags); custom ones must be name@domain. */
const STANDARD_EXTENSIONS: readonly string[] = [...DEFAULT_EXTENSIONS, 'no-touch-required'];
/** Critical options OpenSSH 9.x understands: force-command and source-address take a value, verify-required does not. */
const VALUED_CRITICAL_OPTIONS: readonly string[] = ['force-command', 'source-address'];
const FLAG_CRITICAL_OPTIONS: readonly string[] = ['verify-required'];

function standardName(name: string): string | undefined {
  return STANDARD_EXTENSIONS.find((known) => known.toLowerCase() === name.toLowerCase());
}

/** Applies `--extension` words in order to the default set. */
export function certificateExtensions(words: readonly string[] = []): CertificateOption[] {
  const chosen = new Map<string, CertificateOption>(DEFAULT_EXTENSIONS.map((name) => [name, { name }]));
  for (const word of words.flatMap((w) => w.split(',')).map((w) => w.trim()).filter((w) => w !== '')) {
    const [name, ...rest] = word.split('=');
    const value = rest.length > 0 ? rest.join('=') : undefined;
    if (name === 'clear' && value === undefined) {
      chosen.clear();
      continue;
    }
    const removed = name!.startsWith('no-') && name !== 'no-touch-required' ? standardName(`permit-${name!.slice(3)}`) : undefined;
    if (removed && value === undefined) {
      chosen.delete(removed);
      continue;
    }
    const standard = standardName(name!);
    if (standard) {
      if (value !== undefined) throw new UsageError(`extension ${standard} takes no value`);
      chosen.set(standard, { name: standard });
    } else if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$/.test(name!)) {
      chosen.set(name!, value === undefined ? { name: name! } : { name: name!, value });
    } else {
      throw new UsageError(
        `unknown extension "${name}": use ${STANDARD_EXTENSIONS.join(', ')}, no-pty (and no-… for each permit-…), clear, or a custom name@your-domain[=value]`,
      );
    }
  }
  return [...chosen.values()];
}

/**
 * `--critical force-command=/usr/bin/backup,source-address=10.0.0.0/8,192.168.1.5`: options are split where a
 * known option name starts, so a source-address list keeps its own commas.
 */
export function certificateCriticalOptions(words: readonly string[] = []): CertificateOption[] {
  const names = [...VALUED_CRITICAL_OPTIONS, ...FLAG_CRITICAL_OPTIONS].join('|');
  const options = new Map<string, CertificateOption>();
  for (const word of words) {
    for (const part of word.split(new RegExp(`,(?=(?:${names})(?:=|,|$))`))) {
      const item = part.trim();
      if (item === '') continue;
      const [name, ...rest] = item.split('=');
      const value = rest.length > 0 ? rest.join('=') : undefined;
      if (VALUED_CRITICAL_OPTIONS.includes(name!)) {
        if (!value) throw new UsageError(`critical option ${name} needs a value (${name}=…)`);
        if (name === 'source-address') checkSourceAddresses(value);
        options.set(name!, { name: name!, value });
      } else if (FLAG_CRITICAL_OPTIONS.includes(name!)) {
        if (value !== undefined) throw new UsageError(`critical option ${name} takes no value`);
        options.set(name!, { name: name! });
      } else {
        throw new UsageError(`unknown critical option "${name}" (sshd refuses certificates carrying one): use ${[...VALUED_CRITICAL_OPTIONS, ...FLAG_CRITICAL_OPTIONS].join(', ')}`);
      }
    }
  }
  return [...options.values()];
}

/** Catches typos before a certificate that no server would accept is issued. */
function checkSourceAddresses(list: string): void {
  for (const entry of list.split(',')) {
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(entry.trim())) throw new UsageError(`source-address takes addresses or CIDR blocks separated by commas, not "${entry}"`);
  }
}

/** Splits `a,b , c` into principals; refuses an empty list (TrustedUserCAKeys refuses such certificates). */
export function parsePrincipals(text: string | undefined): string[] {
  const principals = (text ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (principals.length === 0) throw new UsageError('--principals is required: the user names the certificate is valid for, separated by commas');
  return [...new Set(principals)];
}
