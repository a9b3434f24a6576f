import { describe, expect, test } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { certificateCriticalOptions, certificateExtensions, DEFAULT_EXTENSIONS, parsePrincipals } from '../../src/operations/ca/certificate-options.js';
import { CLOCK_SKEW_SECONDS, parseValidity, validityWindow } from '../../src/operations/ca/validity.js';

describe('validity', () => {
  test.each([
    ['30d', 30 * 86400],
    ['12h', 12 * 3600],
    ['52w', 52 * 7 * 86400],
    ['+1w2d', 9 * 86400],
    ['90m', 5400],
  ])('%s is %i seconds', (text, seconds) => expect(parseValidity(text)).toBe(seconds));

  test.each(['forever', '30', '-1d', '0d', '30x', '', '300w'])('"%s" is refused', (text) => expect(() => parseValidity(text)).toThrow(UsageError));

  test('the window starts five minutes back (clock skew) and ends the span after now', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const window = validityWindow(now, 3600);
    expect(window.validAfter).toBe(BigInt(now.getTime() / 1000 - CLOCK_SKEW_SECONDS));
    expect(window.validBefore).toBe(BigInt(now.getTime() / 1000 + 3600));
  });
});

describe('extensions (like ssh-keygen -O)', () => {
  const names = (words?: string[]): string[] => certificateExtensions(words).map((e) => (e.value === undefined ? e.name : `${e.name}=${e.value}`));
  test('default: the five permit-* extensions', () => expect(names()).toEqual([...DEFAULT_EXTENSIONS]));
  test('no-X removes one, clear removes all, then additions', () => {
    expect(names(['no-pty,no-x11-forwarding'])).toEqual(['permit-agent-forwarding', 'permit-port-forwarding', 'permit-user-rc']);
    expect(names(['clear', 'permit-pty', 'login@example.com=alice'])).toEqual(['permit-pty', 'login@example.com=alice']);
  });
  test('unknown names without a domain, and values on flags, are refused', () => {
    expect(() => certificateExtensions(['permit-everything'])).toThrow(/unknown extension/);
    expect(() => certificateExtensions(['permit-pty=yes'])).toThrow(/takes no value/);
  });
});

describe('critical options', () => {
  test('a source-address list keeps its commas; options split where a known name starts', () => {
    expect(certificateCriticalOptions(['force-command=/usr/bin/backup --all,source-address=10.0.0.0/8,192.168.1.5/32,verify-required'])).toEqual([
      { name: 'force-command', value: '/usr/bin/backup --all' },
      { name: 'source-address', value: '10.0.0.0/8,192.168.1.5/32' },
      { name: 'verify-required' },
    ]);
  });
  test('unknown options (sshd would refuse the certificate), missing values and bad addresses are refused', () => {
    expect(() => certificateCriticalOptions(['permit-pty'])).toThrow(/unknown critical option/);
    expect(() => certificateCriticalOptions(['force-command'])).toThrow(/needs a value/);
    expect(() => certificateCriticalOptions(['source-address=10.0.0.0/8,example.com'])).toThrow(/source-address takes/);
  });
});

test('principals: split on commas, duplicates dropped, an empty list refused', () => {
  expect(parsePrincipals('alice, root,alice')).toEqual(['alice', 'root']);
  expect(() => parsePrincipals(' , ')).toThrow(/--principals is required/);
});
