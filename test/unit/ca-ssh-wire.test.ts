import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { mpintBody, SshReader, SshWriter } from '../../src/crypto/ssh-wire.js';
import { h, hexOf } from './helpers.js';

describe('SSH wire encoding (RFC 4251 §5)', () => {
  test('the mpint examples of RFC 4251 §5', () => {
    const mpint = (value: bigint): string => hexOf(new SshWriter().mpint(value).bytes());
    expect(mpint(0n)).toBe('00000000');
    expect(mpint(0x9a378f9b2e332a7n)).toBe('0000000809a378f9b2e332a7');
    expect(mpint(0x80n)).toBe('000000020080');
  });

  test('mpint from bytes: leading zeros dropped, a zero put back before a set top bit, zero is empty', () => {
    expect(hexOf(mpintBody(h('000000')))).toBe('');
    expect(hexOf(mpintBody(h('0000017f')))).toBe('017f');
    expect(hexOf(mpintBody(h('ff01')))).toBe('00ff01');
    expect(hexOf(mpintBody(h('00000080')))).toBe('0080');
    expect(hexOf(new SshWriter().mpint(h('00ff')).bytes())).toBe('0000000200ff');
  });

  test('uint32, uint64 (full 64 bits), string, boolean and name-list', () => {
    const bytes = new SshWriter().uint32(0xdeadbeef).uint64(0xffffffffffffffffn).string('ab').boolean(true).nameList(['a', 'b-c']).bytes();
    expect(hexOf(bytes)).toBe('deadbeef' + 'ffffffffffffffff' + '000000026162' + '01' + '00000005612c622d63');
    const reader = new SshReader(bytes);
    expect(reader.uint32()).toBe(0xdeadbeef);
    expect(reader.uint64()).toBe(0xffffffffffffffffn);
    expect(reader.text()).toBe('ab');
    expect(reader.boolean()).toBe(true);
    expect(reader.nameList()).toEqual(['a', 'b-c']);
    reader.end();
  });

  test('out-of-range values are refused when writing', () => {
    expect(() => new SshWriter().uint64(1n << 64n)).toThrow(RangeError);
    expect(() => new SshWriter().uint64(-1n)).toThrow(RangeError);
    expect(() => new SshWriter().uint32(2 ** 32)).toThrow(RangeError);
    expect(() => new SshWriter().nameList(['a,b'])).toThrow(RangeError);
  });

  test('truncation, trailing bytes, negative and non-minimal mpints are MalformedDataError', () => {
    expect(() => new SshReader(h('00000005616263')).string()).toThrow(MalformedDataError);
    expect(() => new SshReader(h('00000001')).uint64()).toThrow(MalformedDataError);
    const extra = new SshReader(h('0000000000'));
    extra.string();
    expect(() => extra.end()).toThrow(MalformedDataError);
    expect(() => new SshReader(h('0000000180')).mpint()).toThrow(/negative/);
    expect(() => new SshReader(h('00000002007f')).mpint()).toThrow(/leading zero/);
    expect(() => new SshReader(h('00000002ff fe'.replace(' ', ''))).text()).toThrow(MalformedDataError);
  });

  test('any non-negative integer survives an mpint round trip, and its encoding is minimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 600n) - 1n }), (value) => {
        const bytes = new SshWriter().mpint(value).bytes();
        const body = new SshReader(bytes).mpint();
        expect(body.length === 0 ? 0n : BigInt(`0x${hexOf(body)}`)).toBe(value);
        const encodedBody = bytes.subarray(4);
        if (encodedBody.length > 1) expect(encodedBody[0] === 0 && (encodedBody[1]! & 0x80) === 0).toBe(false);
      }),
    );
  });
});
