import { describe, expect, it } from 'vitest';
import { hostsFileSpecs, parseHostSpec, parseHostSpecs } from '../../src/operations/deploy/host-spec.js';

describe('host specs', () => {
  it('reads [user@]host[:port], IPv6 in brackets, and labels them canonically', () => {
    expect(parseHostSpec('alice@db-1.example.org:2222')).toEqual({ user: 'alice', host: 'db-1.example.org', port: 2222, label: 'alice@db-1.example.org:2222' });
    expect(parseHostSpec(' web ')).toEqual({ user: undefined, host: 'web', port: undefined, label: 'web' });
    expect(parseHostSpec('root@[2001:db8::1]:22')).toEqual({ user: 'root', host: '2001:db8::1', port: 22, label: 'root@[2001:db8::1]:22' });
    expect(parseHostSpec('[fe80::1%eth0]')).toMatchObject({ host: 'fe80::1%eth0', port: undefined, label: '[fe80::1%eth0]' });
  });

  it('refuses anything ssh could read as an option, and other malformed specs, saying why', () => {
    const problem = (text: string) => (parseHostSpec(text) as { problem?: string }).problem;
    expect(problem('-oProxyCommand=sh')).toMatch(/a host must not start with "-"/);
    expect(problem('alice@-oProxyCommand=sh')).toMatch(/a host must not start with "-"/);
    expect(problem('-l@host')).toMatch(/a user name must not start with "-"/);
    expect(problem('host:0')).toMatch(/port is a number from 1 to 65535/);
    expect(problem('host:65536')).toMatch(/port/);
    expect(problem('host:22x')).toMatch(/port/);
    expect(problem('[::1')).toMatch(/unclosed/);
    expect(problem('[::1]x')).toMatch(/text after/);
    expect(problem('a b')).toMatch(/bad host name/);
    expect(problem('host;rm')).toMatch(/bad host name/);
    expect(problem('@host')).toMatch(/bad user name/);
    expect(problem('user@')).toMatch(/no host/);
    expect(problem('')).toMatch(/empty/);
  });

  it('checks a whole list, reports every bad spec with where it came from, and keeps duplicates once', () => {
    const parsed = parseHostSpecs([
      { text: 'a', where: '--host' },
      { text: '-x', where: 'hosts:2' },
      { text: 'b:22', where: 'hosts:3' },
      { text: 'a', where: 'hosts:4' },
      { text: 'c:99999', where: 'hosts:5' },
    ]);
    expect(parsed.targets.map((t) => t.label)).toEqual(['a', 'b:22']);
    expect(parsed.problems).toEqual([
      'hosts:2: "-x" is not [user@]host[:port]: a host must not start with "-"',
      'hosts:5: "c:99999" is not [user@]host[:port]: the port is a number from 1 to 65535',
    ]);
  });

  it('reads a hosts file: # comments (whole line or after blanks), blank lines, CRLF, line numbers', () => {
    const text = '# the fleet\r\n\r\nweb1   # front\r\n  db@10.0.0.5:2200\n\n   # nothing\nhost#not-a-comment\n';
    expect(hostsFileSpecs(text, 'fleet.txt')).toEqual([
      { text: 'web1', where: 'fleet.txt:3' },
      { text: 'db@10.0.0.5:2200', where: 'fleet.txt:4' },
      { text: 'host#not-a-comment', where: 'fleet.txt:7' },
    ]);
  });
});
