/**
 * `request`: a PKCS#10 request signed by the key in a slot, for an X.509 CA. Read the slot, check every input (the
 * slot has a signing key, the hash, an attestation only for a card-generated key), then the card signs once (PIN
 * through the PIN guard, as the key's PIN policy asks). The card is not written. No printing: `progress` tells.
 */
import { X509Certificate } from 'node:crypto';
import { bytesEqual } from '../../bytes/hex.js';
import { spkiDer } from '../../crypto/keys.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { NameAttribute } from '../../crypto/x509.js';
import { PivEnrollError } from '../../errors.js';
import type { PivSession } from '../../piv/session.js';
import { FACTORY_PIN } from '../../standards/factory-defaults.js';
import { formatFirmwareVersion, hasFeature } from '../../standards/firmware.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { pivCardKey } from '../enroll/card-signer.js';
import { inspectCard } from '../enroll/inspect.js';
import { sshFingerprint } from '../ssh-public-key.js';
import { buildCardRequest, REQUEST_HASHES } from './card-request.js';
import { readSlotAttestation, slotKeyOf } from './slot-key.js';

/** The request cannot be made as asked; every reason found is listed. Nothing was signed. */
export class CertificateRequestRefused extends PivEnrollError {
  constructor(readonly problems: string[]) {
    super(`cannot make the certificate request:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface RequestCertificateOptions {
  session: PivSession;
  slot: number;
  subject: NameAttribute[];
  hash: HashName;
  /** Put the slot's attestation and the f9 certificate into the request (a key generated on the card only). */
  attest: boolean;
}

export interface RequestCertificateHooks {
  /** The PIN, asked only when the key's PIN policy needs it and the card's PIN is not the factory default. */
  pin(): Promise<string>;
  progress?(message: string): void;
}

export interface RequestCertificateResult {
  slot: string;
  algorithm: string;
  subject: string;
  hash: HashName;
  attested: boolean;
  keySource: 'metadata' | 'certificate' | 'attestation';
  fingerprint: string;
  der: Uint8Array;
  pem: string;
}

export function subjectText(subject: NameAttribute[]): string {
  return subject.map((a) => `${a.type}=${a.value}`).reverse().join(',');
}

export async function requestCertificate(options: RequestCertificateOptions, hooks: RequestCertificateHooks): Promise<RequestCertificateResult> {
  const { session, slot } = options;
  const slotName = slotHex(slot);
  return session.transaction(async () => {
    hooks.progress?.(`reading slot ${slotName}`);
    const inspection = await inspectCard(session, slot);
    const problems: string[] = [];
    if (!REQUEST_HASHES.includes(options.hash)) problems.push(`the request is signed with SHA-256, SHA-384 or SHA-512, not ${options.hash.toUpperCase()}`);
    if (options.subject.length === 0) problems.push('the request needs a subject');
    let attestation;
    if (options.attest) {
      if (!hasFeature(session.version, 'attestation')) problems.push(`firmware ${formatFirmwareVersion(session.version)} has no attestation (4.3 and later)`);
      else if (inspection.slot.keyOrigin === 'imported') problems.push(`slot ${slotName} holds an imported key: only a key generated on the card has an attestation`);
      else {
        attestation = await readSlotAttestation(session, slot);
        if (!attestation && inspection.slot.hasKey !== false) problems.push(`slot ${slotName} holds no key generated on the card, so it has no attestation`);
      }
    }
    const key = slotKeyOf(inspection, attestation);
    if (!key) {
      problems.push(
        inspection.slot.hasKey === false
          ? `slot ${slotName} holds no key: generate or import one first (piv-enroll enroll --csr DIR does both)`
          : `cannot tell which key slot ${slotName} holds (this firmware has no metadata and the slot no certificate): give --attest for a key generated on the card`,
      );
    } else {
      if (key.algorithm.kind === 'x25519') problems.push(`slot ${slotName} holds an X25519 key, which cannot sign a request`);
      if (attestation && !bytesEqual(spkiDer(new X509Certificate(attestation.attestation).publicKey), spkiDer(key.publicKey))) {
        problems.push(`the attestation of slot ${slotName} names another key than the slot's certificate: the certificate is stale; import the right one first`);
      }
    }
    if (inspection.pinAttemptsRemaining === 0) problems.push('the PIN is blocked: unblock it with the PUK first (ykman piv access unblock-pin)');
    if (problems.length > 0 || !key) throw new CertificateRequestRefused(problems);

    // Unknown policy (no metadata): verify the PIN as for ALWAYS; a verified PIN never hurts a signature.
    const pinPolicy = key.pinPolicy ?? PIN_POLICY.ALWAYS;
    const pin = pinPolicy === PIN_POLICY.NEVER ? '' : inspection.pinIsDefault === true ? FACTORY_PIN : await hooks.pin();
    const touch = inspection.slot.touchPolicy === TOUCH_POLICY.ALWAYS || inspection.slot.touchPolicy === TOUCH_POLICY.CACHED;
    hooks.progress?.(`signing the request with the ${key.algorithm.name} key in slot ${slotName}${touch ? ' (touch the card when it blinks)' : ''}`);
    const request = await buildCardRequest({
      key: pivCardKey({ session, slot, algorithm: key.algorithm, pinPolicy, pin }),
      algorithm: key.algorithm,
      publicKey: key.publicKey,
      subject: options.subject,
      hash: options.hash,
      attestation,
    });
    return {
      slot: slotName.toLowerCase(),
      algorithm: key.algorithm.name,
      subject: subjectText(options.subject),
      hash: options.hash,
      attested: attestation !== undefined,
      keySource: key.source,
      fingerprint: sshFingerprint(key.publicKey),
      der: request.der,
      pem: request.pem,
    };
  });
}
