import { describe, expect, test } from 'vitest';
import { StepTimer } from '../../src/operations/enroll/step-timer.js';

describe('StepTimer', () => {
  test('a step lasts until the next one starts; a step that returns adds up; APDUs per step', () => {
    let now = 0;
    let apdus = 0;
    const timer = new StepTimer(() => now, () => apdus);
    const seen: string[] = [];
    const progress = timer.progress((step, message) => seen.push(`${step}: ${message}`));
    progress('harden', 'replacing the default PIN');
    now += 20; apdus += 2;
    progress('harden', 'replacing the default PUK'); // the same step: no new start
    now += 20; apdus += 2;
    progress('authenticate', 'authenticating');
    now += 5; apdus += 3;
    progress('harden', 'setting a management key');
    now += 15; apdus += 4;
    timer.mark('pkcs11');
    now += 100; apdus += 40;
    expect(timer.finish()).toEqual({ harden: { ms: 55, apdus: 8 }, authenticate: { ms: 5, apdus: 3 }, pkcs11: { ms: 100, apdus: 40 } });
    expect(seen).toHaveLength(4);
  });

  test('without an APDU counter, only times', () => {
    let now = 0;
    const timer = new StepTimer(() => now);
    timer.mark('key');
    now += 12.34;
    expect(timer.finish()).toEqual({ key: { ms: 12.3 } });
  });

  test('counting starts when the card is opened (the step in progress from 0) and stops when it is let go', () => {
    let now = 0;
    let apdus = 0;
    const timer = new StepTimer(() => now);
    timer.mark('connect');
    now += 10;
    timer.countApdus(() => apdus); // the card just opened, with SELECT and GET VERSION sent
    apdus += 2;
    timer.mark('verify');
    now += 5; apdus += 4;
    timer.countApdus(undefined); // let go: what verify sent stays verify's
    apdus += 30; // a PKCS#11 module's APDUs: not ours
    now += 1;
    timer.mark('pkcs11');
    now += 100;
    expect(timer.finish()).toEqual({ connect: { ms: 10, apdus: 2 }, verify: { ms: 6, apdus: 4 }, pkcs11: { ms: 100 } });
  });
});
