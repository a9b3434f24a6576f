/**
 * Host specs for `deploy`: `[user@]host[:port]` from flags or a hosts file. Every spec is checked before any
 * connection, and all bad ones are reported together. A host or user starting with '-' is refused outright:
 * it would reach ssh's argv as an option (e.g. `-oProxyCommand=…`).
 */

export interface HostTarget {
  user?: string;
  host: string;
  port?: number;
  /** The spec as the user wrote it, normalized: what results are labelled with. */
  label: string;
}

export interface ParsedHosts {
  targets: HostTarget[];
  problems: string[];
}

const USER = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
const HOSTNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

function labelOf(user: string | undefined, host: string, port: number | undefined): string {
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `${user ? `${user}@` : ''}${shownHost}${port !== undefined ? `:${port}` : ''}`;
}

/** One spec → a target, or the reason it is unusable. */
export function parseHostSpec(text: string): HostTarget | { problem: string } {
  const spec = text.trim();
  const bad = (why: string) => ({ problem: `"${text}" is not [user@]host[:port]: ${why}` });
  if (spec === '') return bad('empty');
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  if (user !== undefined && !USER.test(user)) return bad(user.startsWith('-') ? 'a user name must not start with "-"' : 'bad user name');
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return bad('unclosed "["');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return bad('text after "]"');
    portText = after === '' ? undefined : after.slice(1);
    if (!IPV6.test(host)) return bad('bad IPv6 address');
  } else {
    const colon = rest.indexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
    if (host.startsWith('-')) return bad('a host must not start with "-"');
    if (!HOSTNAME.test(host)) return bad(host === '' ? 'no host' : 'bad host name');
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return bad('the port is a number from 1 to 65535');
  }
  return { user, host, port, label: labelOf(user, host, port) };
}

/** Many specs, each checked; duplicates (same label) are kept once. `where` names each spec's origin in problems. */
export function parseHostSpecs(specs: Array<{ text: string; where?: string }>): ParsedHosts {
  const targets: HostTarget[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { text, where } of specs) {
    const parsed = parseHostSpec(text);
    if ('problem' in parsed) {
      problems.push(where ? `${where}: ${parsed.problem}` : parsed.problem);
    } else if (!seen.has(parsed.label)) {
      seen.add(parsed.label);
      targets.push(parsed);
    }
  }
  return { targets, problems };
}

/** A hosts file: one spec a line; `#` starts a comment (at the start or after blanks); blank lines skipped. */
export function hostsFileSpecs(text: string, fileName: string): Array<{ text: string; where: string }> {
  const specs: Array<{ text: string; where: string }> = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line !== '') specs.push({ text: line, where: `${fileName}:${index + 1}` });
  });
  return specs;
}
