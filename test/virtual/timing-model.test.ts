import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { PivSession } from '../../src/piv/session.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { SLOT as KEY_SLOT } from '../../src/standards/references.js';
import { CardPacer, formatCardTimeStats, YUBIKEY_5_TIMINGS } from '../../src/transport/virtual/timing-model.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN } from './helpers.js';

const RSA2048 = keyAlgorithmByName('RSA2048')!;
const P256 = keyAlgorithmByName('ECCP256')!;

/** A factory-fresh in-memory card behind a pacer, with an RSA-2048 key imported into 9C and one P-256 key in 9A. */
async function pacedCard(model: 'none' | 'yubikey5') {
  const pacer = new CardPacer(model);
  const { transport } = await openVirtualCard({ firmware: '5.7.2', pacer });
  const session = await PivSession.open(transport);
  await session.authenticate(DEFAULT_MANAGEMENT_KEY);
  await session.importKey(KEY_SLOT.SIGNATURE, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { pinPolicy: 0x02 });
  await session.importKey(KEY_SLOT.AUTHENTICATION, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { pinPolicy: 0x02 });
  await session.verifyPin(DEFAULT_PIN);
  return { pacer, session };
}

/** Wall time and CPU time (user + system, this process) of `work`. */
async function measure(work: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

describe('the YubiKey 5 timing model', () => {
  test('an RSA-2048 signature takes its modelled time, a P-256 one its own, and the wait burns no CPU', async () => {
    const { pacer, session } = await pacedCard('yubikey5');
    // Once each first: the emulator's first signature of a kind pays for compiling its code, and the card must not
    // look slower than the model because of that.
    await session.sign(KEY_SLOT.SIGNATURE, RSA2048, new Uint8Array(32));
    await session.sign(KEY_SLOT.AUTHENTICATION, P256, new Uint8Array(32));
    const before = pacer.stats();
    const rsa = await measure(() => session.sign(KEY_SLOT.SIGNATURE, RSA2048, new Uint8Array(32)));
    const ec = await measure(() => session.sign(KEY_SLOT.AUTHENTICATION, P256, new Uint8Array(32)));
    const modelledRsa = YUBIKEY_5_TIMINGS.sign.RSA2048;
    expect(rsa.wallMs).toBeGreaterThanOrEqual(modelledRsa);
    expect(rsa.wallMs).toBeLessThan(modelledRsa + 60); // a few round trips and timer slack on top
    expect(ec.wallMs).toBeGreaterThanOrEqual(YUBIKEY_5_TIMINGS.sign.ECCP256);
    expect(ec.wallMs).toBeLessThan(YUBIKEY_5_TIMINGS.sign.ECCP256 + 60);
    // Waiting is a timer: far less CPU than wall time (node's own RSA is a few ms of it).
    expect(rsa.cpuMs).toBeLessThan(modelledRsa / 3);
    const after = pacer.stats();
    expect(after.operations['sign RSA2048']?.count).toBe(2);
    expect(after.operations['sign ECCP256']?.count).toBe(2);
    expect(after.busyMs - before.busyMs).toBeGreaterThanOrEqual(modelledRsa + YUBIKEY_5_TIMINGS.sign.ECCP256);
    expect(formatCardTimeStats(after)).toMatch(/^card time: model yubikey5, \d+ APDUs, busy [\d.]+ ms/);
  });

  test('the card computes, then waits only for the rest: an operation slower than the model is not padded', async () => {
    let now = 0;
    const slept: number[] = [];
    const pacer = new CardPacer('yubikey5', { now: () => now, sleep: async (ms) => void slept.push(ms) });
    const state = (await openVirtualCard({ firmware: '5.7.2' })).transport.card.state;
    const verify = Uint8Array.from([0x00, 0x20, 0x00, 0x80, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xff, 0xff]);
    const ok = Uint8Array.of(0x90, 0x00);
    await pacer.exchange(verify, () => state, async () => ((now += 4), ok)); // 4 ms of emulator work
    const modelled = YUBIKEY_5_TIMINGS.apduRoundTrip + ((verify.length + 2) / 1024) * YUBIKEY_5_TIMINGS.transferPerKb + YUBIKEY_5_TIMINGS.pinVerify;
    expect(slept).toHaveLength(1);
    expect(slept[0]).toBeCloseTo(modelled - 4, 6);
    await pacer.exchange(verify, () => state, async () => ((now += 50), ok)); // slower than the model: no wait at all
    expect(slept).toHaveLength(1);
    const stats = pacer.stats();
    expect(stats.busyMs).toBeCloseTo(modelled + 50, 6);
    expect(stats.computedMs).toBe(54);
  });

  test('two paced cards in parallel take about the wall time of one (waits, not CPU burn)', async () => {
    const signs = async (session: PivSession): Promise<void> => {
      for (let i = 0; i < 4; i++) await session.sign(KEY_SLOT.SIGNATURE, RSA2048, new Uint8Array(32));
    };
    const [a, b] = [await pacedCard('yubikey5'), await pacedCard('yubikey5')];
    const one = await measure(() => signs(a.session));
    const two = await measure(() => Promise.all([signs(a.session), signs(b.session)]));
    expect(one.wallMs).toBeGreaterThanOrEqual(4 * YUBIKEY_5_TIMINGS.sign.RSA2048);
    expect(two.wallMs).toBeLessThan(one.wallMs * 1.25);
  });

  test('under "none" nothing waits and the card time is what the emulator computed', async () => {
    const { pacer, session } = await pacedCard('none');
    const signed = await measure(() => session.sign(KEY_SLOT.SIGNATURE, RSA2048, new Uint8Array(32)));
    expect(signed.wallMs).toBeLessThan(YUBIKEY_5_TIMINGS.sign.RSA2048);
    const stats = pacer.stats();
    expect(stats.modelledMs).toBe(0);
    expect(stats.busyMs).toBeCloseTo(stats.computedMs, 6);
  });
});
