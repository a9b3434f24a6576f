import { describe, expect, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { ApduTracer, redactCommand, redactResponse } from '../../src/transport/apdu-trace.js';

const secret = '3132333435363738';

describe('APDU trace redaction', () => {
  test.each([
    ['VERIFY PIN', `0020008008${secret}`],
    ['CHANGE REFERENCE (PIN)', `0024008010${secret}${secret}`],
    ['RESET RETRY (PUK + new PIN)', `002C008010${secret}${secret}`],
    ['IMPORT KEY', `00FE119C2206200102030405060708${secret}${secret}${secret}`],
    ['SET MANAGEMENT KEY', `00FFFFFF1B039B18${secret}${secret}${secret}`],
    ['GENERAL AUTHENTICATE with the management key', `0087039B167C148008${secret}8108${secret}`],
    ['PUT DATA of the PIN-protected management key', `00DB3FFF235C035FC109531C881A8918${secret}${secret}${secret}`],
  ])('%s: no secret byte in the trace, the header kept', (_name, hex) => {
    const line = redactCommand(fromHex(hex));
    expect(line).toBe(`${hex.slice(0, 8)} <redacted>`);
    expect(line).not.toContain(secret);
  });

  test('ordinary commands are traced in full', () => {
    expect(redactCommand(fromHex('00CB3FFF055C035FC10A'))).toBe('00CB3FFF055C035FC10A');
    expect(redactCommand(fromHex('0087079C0A7C088200810401020304'))).toBe('0087079C0A7C088200810401020304');
    expect(redactCommand(fromHex('00FD0000'))).toBe('00FD0000');
  });

  test('responses that carry secrets are redacted, also when they arrive through GET RESPONSE', () => {
    expect(redactResponse(fromHex('00CB3FFF055C035FC109'), fromHex(`531C881A8918${secret}`), 0x9000)).toBe('<redacted> 9000');
    expect(redactResponse(fromHex('0087039B047C028000'), fromHex(`7C0A8008${secret}`), 0x9000)).toBe('<redacted> 9000');
    expect(redactResponse(fromHex('00CB3FFF055C035FC10A'), fromHex('5301AA'), 0x9000)).toBe('5301AA 9000');
    const lines: string[] = [];
    const tracer = new ApduTracer((line) => lines.push(line));
    tracer.command(fromHex('00CB3FFF055C035FC109'));
    tracer.response(fromHex(`53${secret}`), 0x6108);
    tracer.command(fromHex('00C0000008'));
    tracer.response(fromHex(secret), 0x9000);
    expect(lines).toEqual(['> 00CB3FFF055C035FC109', '< <redacted> 6108', '> 00C0000008', '< <redacted> 9000']);
    expect(lines.join('\n')).not.toContain(secret);
  });
});
