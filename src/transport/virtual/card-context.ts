/**
 * What every instruction handler of the virtual card works with: the persistent state, the volatile
 * security state of the current power cycle, and the injected randomness, clock and key generator.
 */
import type { KeyObject } from 'node:crypto';
import type { DecodedCommand } from '../../bytes/apdu.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { hasFeature, parseFirmwareVersion, type Feature, type FirmwareVersion } from '../../standards/firmware.js';
import { TOUCH_CACHE_MILLISECONDS, TOUCH_POLICY } from '../../standards/policies.js';
import { SW } from '../../standards/status-words.js';
import type { CardState } from './card-state.js';

/** Thrown by a handler to answer with a status word other than 9000. */
export class CardStatus extends Error {
  constructor(readonly sw: number, reason?: string) {
    super(reason ?? `SW ${sw.toString(16)}`);
  }
}

export interface CardDependencies {
  random(length: number): Uint8Array;
  /** Milliseconds since the epoch. */
  now(): number;
  generateKeyPair(algorithm: KeyAlgorithmInfo): { privateKey: KeyObject; publicKey: KeyObject };
}

/**
 * Faults a test can switch on to make the card misbehave like broken hardware or drivers:
 * corrupt-signature — signatures that parse but do not verify (like a faulty minidriver);
 * wrong-certificate — a slot's certificate, when read, holds another key (the attestation key's);
 * drop-mid-command — the card vanishes in the middle of a chained command (vpcd bridge only);
 * no-space — writing a certificate fails with 6A84, as on a card whose storage is full;
 * attest-other-key, attest-other-serial, attest-broken-signature — ATTEST answers a tampered certificate (another key,
 *   another card's serial, a signature f9 did not make), as a counterfeit or replayed attestation would;
 * attest-wrong-chain — the f9 certificate (5FFF01) is issued by a root nobody trusts, not by the card's CA.
 */
export type CardFault =
  | 'corrupt-signature' | 'wrong-certificate' | 'drop-mid-command' | 'no-space'
  | 'attest-other-key' | 'attest-other-serial' | 'attest-broken-signature' | 'attest-wrong-chain';
export const CARD_FAULTS: readonly CardFault[] = [
  'corrupt-signature', 'wrong-certificate', 'drop-mid-command', 'no-space',
  'attest-other-key', 'attest-other-serial', 'attest-broken-signature', 'attest-wrong-chain',
];

/** Applications the virtual card can have selected. */
export type CardApplication = 'piv' | 'management';

/** Security state that a real card loses at power-off, reset, or a new SELECT. */
export interface VolatileState {
  /**
   * The selected application. PIV after power-on, so a host that sends PIV commands without a SELECT keeps
   * working as it always has with this card; SELECT of the Management AID switches (and loses PIV's state).
   */
  application: CardApplication;
  pinVerified: boolean;
  /**
   * A VERIFY that no PIN-always signature has used yet. A slot with PIN policy ALWAYS needs one
   * for each signature, and consumes it.
   */
  pinFreshForAlways: boolean;
  managementAuthenticated: boolean;
  /** Pending GENERAL AUTHENTICATE with the management key: what step 2 must prove. */
  pendingWitness?: Uint8Array;
  pendingChallenge?: Uint8Array;
  lastTouchAt?: number;
}

export function freshVolatileState(): VolatileState {
  return { application: 'piv', pinVerified: false, pinFreshForAlways: false, managementAuthenticated: false };
}

export class CardContext {
  readonly firmware: FirmwareVersion;
  volatile: VolatileState = freshVolatileState();
  private changed = false;

  constructor(
    public state: CardState,
    readonly deps: CardDependencies,
    readonly faults: ReadonlySet<CardFault>,
  ) {
    const firmware = parseFirmwareVersion(state.firmware);
    if (!firmware) throw new RangeError(`virtual card state has an invalid firmware version: ${state.firmware}`);
    this.firmware = firmware;
  }

  markChanged(): void {
    this.changed = true;
  }

  /** True once after each change: the store saves then. */
  takeChanged(): boolean {
    const was = this.changed;
    this.changed = false;
    return was;
  }

  has(feature: Feature): boolean {
    return hasFeature(this.firmware, feature);
  }

  requireFeature(feature: Feature): void {
    if (!this.has(feature)) throw new CardStatus(SW.INS_NOT_SUPPORTED, `firmware lacks ${feature}`);
  }

  requireManagementKey(): void {
    if (!this.volatile.managementAuthenticated) throw new CardStatus(SW.SECURITY_STATUS_NOT_SATISFIED, 'management key not authenticated');
  }

  requirePin(): void {
    if (!this.volatile.pinVerified) throw new CardStatus(SW.SECURITY_STATUS_NOT_SATISFIED, 'PIN not verified');
  }

  /** A touch policy asks for a touch: the virtual card approves at once, but counts it. */
  touch(policy: number): void {
    const now = this.deps.now();
    if (policy === TOUCH_POLICY.ALWAYS || policy === TOUCH_POLICY.CACHED) {
      const cached = policy === TOUCH_POLICY.CACHED && this.volatile.lastTouchAt !== undefined && now - this.volatile.lastTouchAt < TOUCH_CACHE_MILLISECONDS;
      if (!cached) {
        this.state.touchCount++;
        this.volatile.lastTouchAt = now;
        this.markChanged();
      }
    }
  }
}

export type InstructionHandler = (ctx: CardContext, command: DecodedCommand) => Uint8Array | Promise<Uint8Array>;
