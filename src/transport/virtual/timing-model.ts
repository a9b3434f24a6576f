/**
 * How long a real YubiKey 5 would take to answer each APDU, so benchmarks behind the virtual card measure what a
 * person waits for at the desk, not the host's CPU. The pacer (CardPacer) lets the virtual card compute first and then
 * waits, with a timer, for the rest of the modelled time: the emulator's own work (node:crypto, the state file) never
 * counts twice, and four paced cards on two CPUs wait side by side like four real cards.
 *
 * Figures and their sources. Where no published measurement was found, the comment says so and gives the reasoning.
 * All are for a USB YubiKey 5 (firmware 5.x) through pcscd's CCID driver.
 */
import { decodeCommandApdu } from '../../bytes/apdu.js';
import { MalformedDataError } from '../../bytes/errors.js';
import { keyAlgorithmById, type KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { CLA_CHAINED, INS } from '../../standards/instructions.js';
import type { CardState } from './card-state.js';
import { slotKey } from './card-state.js';

export type TimingModelName = 'none' | 'yubikey5';
export const TIMING_MODELS: readonly TimingModelName[] = ['none', 'yubikey5'];
export const DEFAULT_TIMING_MODEL: TimingModelName = 'none';

/** What a YubiKey 5 takes per operation, in milliseconds. */
export interface CardTimings {
  /** One APDU and its response over USB CCID, however small: the fixed cost of a round trip. */
  apduRoundTrip: number;
  /** Each further KB on the wire, command and response together. */
  transferPerKb: number;
  pinVerify: number;
  /** CHANGE REFERENCE and RESET RETRY: check the old value, write the new one and its counter. */
  pinChange: number;
  /** One step of the management key's challenge-response (a block cipher on a few bytes). */
  managementKeyStep: number;
  /** A private-key operation (signature or key agreement) by algorithm. */
  sign: Record<KeyAlgorithmInfo['name'], number>;
  /** On-card key generation by algorithm (the average: RSA's prime search varies widely). */
  generate: Record<KeyAlgorithmInfo['name'], number>;
  /** Writing to the card's flash: a fixed cost per write and a cost per KB written (objects, imported keys). */
  writeFixed: number;
  writePerKb: number;
}

/**
 * The YubiKey 5 figures.
 *
 * apduRoundTrip 1 ms: "with the Yubikey 5 GET DATA returns in less than 1ms when the slot is empty"
 *   (trussed-dev/piv-authenticator issue #40, 2025). USB full speed schedules bulk transfers in 1 ms frames, so a round
 *   trip rarely takes less; 1 ms is the floor a real reader adds to every APDU.
 * transferPerKb 4 ms: no published figure found. Reasoning: the YubiKey's CCID endpoints move 64-byte packets on a
 *   full-speed bus, and a chained 3 KB certificate write is visibly quicker than the 50 ms its flash write takes; a few
 *   ms per KB (~250 KB/s) is what a full-speed CCID device sustains in practice.
 * pinVerify 10 ms: "In comparison with the Yubikey 5 it takes only 10 ms" (VERIFY, measured against a YubiKey 5 in
 *   Nitrokey/opcard-rs issue #204, 2024).
 * pinChange 20 ms: no published figure found; a verify of the old value (10 ms, above) plus a flash write of the new
 *   one and its retry counter (writeFixed below).
 * managementKeyStep 2 ms: no published figure found; one 3DES/AES block operation on a secure element is microseconds,
 *   so the step costs little more than its round trip.
 * sign RSA2048 150 ms: Yubico's hardware engineer gave "about 475 ms" for an RSA signature on the older YubiKey NEO's
 *   JCOP chip (forum.yubico.com, "RSA implementation on the Neo", 2013); the YubiKey 4/5's Infineon chip is several
 *   times faster, and "100ms with yubikeys vs ~1sec with nitrokeys" for the same operations (Nitrokey/nitrokey-3-firmware
 *   issue #625, 2025) puts a YubiKey 5 private-key operation around 100 ms. 150 ms for RSA-2048 sits between the two.
 * sign RSA1024/3072/4096: no published figures found; a CRT private-key operation grows with the cube of the modulus
 *   size, so 1024 ≈ 150/8 → 25 ms (rounded up for the fixed overhead), 3072 ≈ 150 × 3.4 → 500 ms, 4096 ≈ 150 × 8 → 1200 ms.
 * sign ECCP256 70 ms, ECCP384 140 ms, Ed25519 90 ms: "~100 ms with yubikeys" (issue #625 above) for everyday operations,
 *   which are P-256 for FIDO and PIV SSH keys; Teleport's client shows its PIV touch prompt only "after 200ms"
 *   (gravitational/teleport pull request #55017), so a YubiKey's untouched P-256 signature comes back before that. P-384 costs about twice P-256 (field
 *   size squared); Ed25519 arrived in firmware 5.7 without, as far as is published, hardware acceleration: a little
 *   slower than P-256.
 * generate RSA2048 9 s: "Smartcards can generate RSA keys of 2048bit in about 9 secs" (trustcrypto/OnlyKey-Firmware
 *   issue #66, 2017). RSA1024 2 s, RSA3072 30 s, RSA4096 75 s: no published figures found for the YubiKey; prime search
 *   grows with about the fourth power of the size (the density of primes times the cost of each test), rounded down
 *   because the cards' timeouts (yubico-piv-tool, ykman) would otherwise trip.
 * generate ECC: no published figures found; an EC key is one scalar multiplication, as a signature is: the
 *   signature figures above plus a flash write.
 * writeFixed 15 ms, writePerKb 10 ms: no published figure found. Flash on secure-element microcontrollers erases and
 *   programs pages of a few hundred bytes in a few ms each, with a transaction journal on top; ykman's certificate
 *   import (about 1 KB) takes a visible fraction of a second end to end, most of it the tool's own start-up.
 */
export const YUBIKEY_5_TIMINGS: CardTimings = {
  apduRoundTrip: 1,
  transferPerKb: 4,
  pinVerify: 10,
  pinChange: 20,
  managementKeyStep: 2,
  sign: { RSA1024: 25, RSA2048: 150, RSA3072: 500, RSA4096: 1200, ECCP256: 70, ECCP384: 140, ED25519: 90, X25519: 90 },
  generate: { RSA1024: 2000, RSA2048: 9000, RSA3072: 30_000, RSA4096: 75_000, ECCP256: 90, ECCP384: 170, ED25519: 110, X25519: 110 },
  writeFixed: 15,
  writePerKb: 10,
};

/** Where a paced APDU's time went: the name of the card operation, and how long the model says it takes. */
export interface ModelledExchange {
  operation: string;
  ms: number;
}

const MANAGEMENT_KEY_SLOT = 0x9b;
const ATTESTATION_SLOT = 0xf9;
const PIN_REFERENCE = 0x80;

function succeeded(sw: number): boolean {
  return sw === 0x9000 || sw >> 8 === 0x61;
}

function statusWord(response: Uint8Array): number {
  return response.length >= 2 ? (response[response.length - 2]! << 8) | response[response.length - 1]! : 0;
}

function algorithmName(id: number | undefined): KeyAlgorithmInfo['name'] | undefined {
  return id === undefined ? undefined : keyAlgorithmById(id)?.name;
}

/**
 * The modelled time of one APDU exchange. `chainedBytes` is the command data that earlier links of the same chain
 * carried (the operation runs when the last link arrives); `state` is the card after the command (a generated key is
 * then in its slot).
 */
export function modelExchange(timings: CardTimings, apdu: Uint8Array, response: Uint8Array, state: CardState, chainedBytes: number): ModelledExchange {
  const wire = timings.apduRoundTrip + ((apdu.length + response.length) / 1024) * timings.transferPerKb;
  let command;
  try {
    command = decodeCommandApdu(apdu);
  } catch (error) {
    if (error instanceof MalformedDataError) return { operation: 'malformed', ms: wire };
    throw error;
  }
  if ((command.cla & CLA_CHAINED) !== 0) return { operation: 'chained part', ms: wire };
  const sw = statusWord(response);
  const dataLength = chainedBytes + command.data.length;
  const write = (kb: number): number => timings.writeFixed + kb * timings.writePerKb;
  const done = (operation: string, ms: number): ModelledExchange => ({ operation, ms: wire + ms });
  switch (command.ins) {
    case INS.VERIFY:
      // A wrong PIN costs the card as much as a right one; an empty VERIFY only reports the tries left.
      if (command.data.length === 0) return done('pin status', 0);
      return done('verify pin', sw === 0x9000 || sw >> 8 === 0x63 || sw === 0x6983 ? timings.pinVerify : 0);
    case INS.CHANGE_REFERENCE:
    case INS.RESET_RETRY:
      return done(command.p2 === PIN_REFERENCE || command.ins === INS.RESET_RETRY ? 'change pin' : 'change puk', sw === 0x9000 || sw >> 8 === 0x63 ? timings.pinChange : 0);
    case INS.GENERAL_AUTHENTICATE: {
      if (!succeeded(sw)) return done('general authenticate refused', 0);
      if (command.p2 === MANAGEMENT_KEY_SLOT) return done('management key step', timings.managementKeyStep);
      const name = algorithmName(command.p1);
      return done(`sign ${name ?? 'unknown'}`, name ? timings.sign[name] : 0);
    }
    case INS.GENERATE_ASYMMETRIC: {
      if (!succeeded(sw)) return done('generate refused', 0);
      const name = algorithmName(state.keys[slotKey(command.p2)]?.algorithm);
      return done(`generate ${name ?? 'unknown'}`, (name ? timings.generate[name] : 0) + write(0.5));
    }
    case INS.IMPORT_KEY: {
      if (!succeeded(sw)) return done('import refused', 0);
      return done(`import ${algorithmName(command.p1) ?? 'unknown'}`, write(dataLength / 1024));
    }
    case INS.ATTEST: {
      if (!succeeded(sw)) return done('attest refused', 0);
      const name = algorithmName(state.keys[slotKey(ATTESTATION_SLOT)]?.algorithm) ?? 'RSA2048';
      return done('attest', timings.sign[name]);
    }
    case INS.PUT_DATA:
    case INS.SET_MANAGEMENT_KEY:
    case INS.SET_PIN_RETRIES:
    case INS.MOVE_KEY:
    case INS.RESET:
      return done(command.ins === INS.PUT_DATA ? 'put data' : 'write', succeeded(sw) ? write(dataLength / 1024) : 0);
    default:
      return done(command.ins === INS.GET_RESPONSE ? 'get response' : command.ins === INS.GET_DATA ? 'get data' : 'other', 0);
  }
}

export interface OperationStats {
  count: number;
  ms: number;
}

/** What the card did: APDUs, the time it was busy (the physical limit of anything driving it), and where it went. */
export interface CardTimeStats {
  model: TimingModelName;
  apdus: number;
  /** Sum over APDUs of the longer of the modelled and the computed time: the card's own share of the wall time. */
  busyMs: number;
  /** The model's time alone (0 under "none"). */
  modelledMs: number;
  /** The emulator's own work (handlers and the state file), as measured. */
  computedMs: number;
  operations: Record<string, OperationStats>;
}

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Paces a card's exchanges to a timing model: runs the card's work, then waits out what the model says is left.
 * A wait is a timer, never a busy loop, so paced cards in one or many processes leave the CPU to everyone else.
 */
export class CardPacer {
  private chainedBytes = 0;
  private readonly totals: CardTimeStats;
  private readonly timings: CardTimings | undefined;

  constructor(
    readonly model: TimingModelName,
    private readonly clock: PacerClock = realClock,
    timings?: CardTimings,
  ) {
    this.timings = model === 'none' ? undefined : (timings ?? YUBIKEY_5_TIMINGS);
    this.totals = { model, apdus: 0, busyMs: 0, modelledMs: 0, computedMs: 0, operations: {} };
  }

  /** Answers `apdu` with what `work` returns, no sooner than the model allows. `state` is read after the work. */
  async exchange(apdu: Uint8Array, state: () => CardState, work: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const started = this.clock.now();
    const response = await work();
    const computed = this.clock.now() - started;
    const modelled = this.timings ? modelExchange(this.timings, apdu, response, state(), this.chainedBytes) : { operation: 'apdu', ms: 0 };
    this.trackChain(apdu);
    const remaining = modelled.ms - computed;
    if (remaining > 0) await this.clock.sleep(remaining);
    this.record(modelled, computed);
    return response;
  }

  stats(): CardTimeStats {
    return { ...this.totals, operations: Object.fromEntries(Object.entries(this.totals.operations).map(([k, v]) => [k, { ...v }])) };
  }

  private trackChain(apdu: Uint8Array): void {
    let chained = false;
    let length = 0;
    try {
      const command = decodeCommandApdu(apdu);
      chained = (command.cla & CLA_CHAINED) !== 0;
      length = command.data.length;
    } catch (error) {
      if (!(error instanceof MalformedDataError)) throw error;
    }
    this.chainedBytes = chained ? this.chainedBytes + length : 0;
  }

  private record(modelled: ModelledExchange, computed: number): void {
    const t = this.totals;
    t.apdus++;
    t.computedMs += computed;
    t.modelledMs += modelled.ms;
    t.busyMs += Math.max(modelled.ms, computed);
    const op = (t.operations[modelled.operation] ??= { count: 0, ms: 0 });
    op.count++;
    op.ms += Math.max(modelled.ms, computed);
  }
}

/** One line for logs and benchmarks: `card time: model yubikey5, 24 APDUs, busy 812.3 ms (modelled 805.0 ms, computed 41.2 ms)`. */
export function formatCardTimeStats(stats: CardTimeStats): string {
  return `card time: model ${stats.model}, ${stats.apdus} APDUs, busy ${stats.busyMs.toFixed(1)} ms (modelled ${stats.modelledMs.toFixed(1)} ms, computed ${stats.computedMs.toFixed(1)} ms)`;
}

export function parseTimingModel(text: string): TimingModelName | undefined {
  return (TIMING_MODELS as readonly string[]).includes(text) ? (text as TimingModelName) : undefined;
}
