/**
 * Verifies a PIV attestation: the slot's attestation certificate ← the card's f9 device certificate ← (Yubico's
 * intermediates) ← a trusted root, every signature and validity period checked against an injected clock; then
 * that the attested key is the slot's key and the attested serial the card's. Pure: certificates in, verdict out.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { MalformedDataError } from '../../bytes/errors.js';
import { spkiDer } from '../../crypto/keys.js';
import { toHex } from '../../bytes/hex.js';
import { parseAttestationFacts, type AttestationFacts } from './extensions.js';
import type { AttestationTrust } from './roots.js';

export type RefusalReason = 'malformed' | 'broken-signature' | 'wrong-chain' | 'expired' | 'other-key' | 'other-serial';

export interface AttestationInput {
  /** The slot's attestation certificate (ATTEST), DER. */
  attestation: Uint8Array;
  /** The f9 device certificate (object 5FFF01), DER. */
  deviceCertificate: Uint8Array;
  /** The key the slot holds, when known (metadata or the slot certificate). */
  slotPublicKey?: KeyObject;
  /** The card's own serial, when known. */
  cardSerial?: number;
  trust: AttestationTrust;
  now: Date;
}

export type AttestationVerdict =
  | { verified: true; facts: AttestationFacts; chain: string[]; trust: string }
  | { verified: false; reason: RefusalReason; message: string; facts?: AttestationFacts; chain: string[]; trust: string };

/** An Yubico chain is at most f9 ← PIV intermediate ← attestation intermediate ← root. */
const MAX_CHAIN_LENGTH = 6;

class Refusal extends Error {
  constructor(readonly reason: RefusalReason, message: string) {
    super(message);
  }
}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new Refusal('malformed', `the ${what} is not a readable X.509 certificate`);
  }
}

function requireValid(certificate: X509Certificate, now: Date): void {
  const from = new Date(certificate.validFrom);
  const to = new Date(certificate.validTo);
  if (now < from) throw new Refusal('expired', `${certificate.subject} is not valid before ${from.toISOString()}`);
  if (now > to) throw new Refusal('expired', `${certificate.subject} expired on ${to.toISOString()}`);
}

/** `issuer` names and signed `child`: names (and key identifiers, where present) first, then the signature. */
function requireIssued(child: X509Certificate, issuer: X509Certificate, childWhat: string): void {
  if (!child.checkIssued(issuer)) throw new Refusal('wrong-chain', `the ${childWhat} is issued by ${child.issuer}, not by ${issuer.subject}`);
  if (!child.verify(issuer.publicKey)) throw new Refusal('broken-signature', `the signature of the ${childWhat} does not verify with the key of ${issuer.subject}`);
}

/** Walks from the device certificate up to a trusted root; returns the subjects on the way. */
function chainToRoot(device: X509Certificate, trust: AttestationTrust, now: Date): string[] {
  const chain: string[] = [];
  let current = device;
  let what = 'device (f9) certificate';
  while (chain.length < MAX_CHAIN_LENGTH) {
    const root = trust.roots.find((r) => current.checkIssued(r));
    if (root) {
      requireIssued(current, root, what);
      requireValid(root, now);
      chain.push(root.subject);
      return chain;
    }
    const next = trust.intermediates.find((c) => current.checkIssued(c) && c.fingerprint256 !== current.fingerprint256);
    if (!next) throw new Refusal('wrong-chain', `the ${what} (${current.subject}) is issued by ${current.issuer}, which is not among the roots of ${trust.name}`);
    requireIssued(current, next, what);
    requireValid(next, now);
    chain.push(next.subject);
    current = next;
    what = `intermediate ${next.subject}`;
  }
  throw new Refusal('wrong-chain', `no root of ${trust.name} within ${MAX_CHAIN_LENGTH} certificates`);
}

export function verifyAttestation(input: AttestationInput): AttestationVerdict {
  const chain: string[] = [];
  let facts: AttestationFacts | undefined;
  try {
    const attestation = parse(input.attestation, 'attestation certificate');
    const device = parse(input.deviceCertificate, 'device (f9) certificate');
    chain.push(attestation.subject, device.subject);
    try {
      facts = parseAttestationFacts(input.attestation, input.deviceCertificate);
    } catch (error) {
      if (error instanceof MalformedDataError) throw new Refusal('malformed', error.message);
      throw error;
    }
    requireIssued(attestation, device, 'attestation certificate');
    requireValid(attestation, input.now);
    requireValid(device, input.now);
    chain.push(...chainToRoot(device, input.trust, input.now));
    if (input.slotPublicKey && toHex(spkiDer(attestation.publicKey)) !== toHex(spkiDer(input.slotPublicKey))) {
      throw new Refusal('other-key', 'the attested key is not the key in the slot');
    }
    if (input.cardSerial !== undefined) {
      if (facts.serial === undefined) throw new Refusal('other-serial', `the attestation names no serial; the card is ${input.cardSerial}`);
      if (facts.serial !== input.cardSerial) throw new Refusal('other-serial', `the attestation is for serial ${facts.serial}, but the card is ${input.cardSerial}`);
    }
    return { verified: true, facts, chain, trust: input.trust.name };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return { verified: false, reason: error.reason, message: error.message, facts, chain, trust: input.trust.name };
  }
}
