/**
 * Carries out an enrollment plan on the card, step by step. Each step reports to `progress`, so the CLI
 * can show a task list. Order matters for recovery: the key goes in before the certificate, so a run that
 * stops in between leaves a half-done slot that the next run detects and finishes.
 */
import { X509Certificate, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toHex, wipe } from '../../bytes/hex.js';
import { generateKeyPairForAsync, spkiDer } from '../../crypto/keys.js';
import { certificatePem, publicKeyPem } from '../../crypto/pem.js';
import { buildCertificate } from '../../crypto/x509.js';
import { PivEnrollError } from '../../errors.js';
import { FACTORY_PIN, FACTORY_PUK } from '../../standards/factory-defaults.js';
import { PIN_POLICY } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { writeKeyBackup } from '../key-file.js';
import { authorizedKeysLine, sshFingerprint } from '../ssh-public-key.js';
import { buildCardRequest } from '../x509/card-request.js';
import { cardTbsSigner, certificateSignatureAlgorithm } from './card-signer.js';
import type { CardInspection } from './inspect.js';
import type { EnrollOptions, NewCredentials } from './options.js';
import { effectivePinPolicy, type EnrollmentPlan } from './plan.js';
import type { EnrollmentTarget } from './target.js';
import { verifyCardSignatures, type SignatureCheck } from './verify.js';

export class EnrollmentError extends PivEnrollError {}

const BAD_SIGNATURE_ADVICE =
  'A server would accept this key and then refuse its signatures ("Server refused public-key signature despite accepting key"). ' +
  'Do not hand this card out: re-run with --force, and replace the card if it happens again.';

export interface EnrollDependencies {
  now(): Date;
  random(length: number): Uint8Array;
  /** Makes host keys (off the main thread); injectable so tests can pin a key. */
  generateKeyPair: typeof generateKeyPairForAsync;
}

export const defaultEnrollDependencies: EnrollDependencies = {
  now: () => new Date(),
  random: (n) => new Uint8Array(randomBytes(n)),
  generateKeyPair: generateKeyPairForAsync,
};

export type StepName = 'harden' | 'authenticate' | 'key' | 'certificate' | 'export' | 'verify';
export type Progress = (step: StepName, message: string) => void;

export interface EnrollmentResult {
  card: string;
  serial?: number;
  slot: string;
  algorithm: string;
  keyAction: EnrollmentPlan['key']['action'];
  publicKey: KeyObject;
  authorizedKey: string;
  fingerprint: string;
  /** The self-signed certificate written; absent when the enrollment stopped at a request (enroll --csr). */
  certificateDer?: Uint8Array;
  certificate?: { subject: string; serial: string; notAfter: string };
  /** The certificate request written instead (enroll --csr), for an X.509 CA; `certificate import` brings its answer. */
  request?: { file: string; subject: string; attested: boolean };
  attestationDer?: Uint8Array;
  /** The f9 device certificate that signed `attestationDer`. */
  attestationDeviceDer?: Uint8Array;
  /** The fresh CHUID's GUID; undefined when the backend cannot write the CHUID. */
  chuidGuid?: string;
  verification: SignatureCheck[];
  files: string[];
  hardened: { pin: boolean; puk: boolean; managementKey?: string };
}

/**
 * The PIN the card has before the enrollment: the factory default where the card says it still has it (a PIN given
 * then is not the card's), else the one given. The PKCS#11 checks afterwards use the same rule (or the new PIN).
 */
export function currentPin(inspection: CardInspection, secrets: EnrollOptions['secrets']): string {
  return inspection.pinIsDefault === true ? FACTORY_PIN : secrets.pin!;
}

/** The public key, authorized_keys line, certificate and attestation as files in `outDir` (none without it). */
async function exportFiles(outDir: string | undefined, slotName: string, publicKey: KeyObject, comment: string, certificateDer: Uint8Array | undefined, attestationDer: Uint8Array | undefined, attestationDeviceDer: Uint8Array | undefined): Promise<string[]> {
  if (!outDir) return [];
  await mkdir(outDir, { recursive: true });
  const base = `piv-${slotName.toLowerCase()}`;
  const outputs: Array<[string, string]> = [
    [`${base}.pub`, `${authorizedKeysLine(publicKey, comment)}\n`],
    [`${base}-public.pem`, publicKeyPem(publicKey)],
  ];
  if (certificateDer) outputs.push([`${base}-cert.pem`, certificatePem(certificateDer)]);
  if (attestationDer) outputs.push([`${base}-attestation.pem`, certificatePem(attestationDer)]);
  if (attestationDeviceDer) outputs.push([`${base}-attestation-f9.pem`, certificatePem(attestationDeviceDer)]);
  const written: string[] = [];
  for (const [name, content] of outputs) {
    await writeFile(join(outDir, name), content, { mode: 0o644 });
    written.push(join(outDir, name));
  }
  return written;
}

export async function applyEnrollment(
  target: EnrollmentTarget,
  inspection: CardInspection,
  plan: EnrollmentPlan,
  options: EnrollOptions,
  progress: Progress = () => undefined,
  deps: EnrollDependencies = defaultEnrollDependencies,
  /** Hears the credentials set, right after the card took them (escrow, handing out a generated PIN). */
  credentialsSet?: (credentials: NewCredentials) => Promise<void>,
): Promise<EnrollmentResult> {
  const slot = plan.slot;
  const slotName = slotHex(slot);
  // Start making a host key now: it overlaps with the credential steps' card I/O.
  const hostKey = plan.key.action === 'import-host-key' ? deps.generateKeyPair(plan.key.algorithm) : undefined;
  hostKey?.catch(() => undefined); // a failure surfaces where the key is awaited
  let pin = currentPin(inspection, options.secrets);
  const hardened: EnrollmentResult['hardened'] = { pin: false, puk: false };
  const credentials: NewCredentials = { serial: plan.serial };

  // 1. Credentials: a new PIN and PUK first, then the management key (its protected copy needs the new PIN).
  if (plan.hardening.changePin) {
    progress('harden', 'replacing the default PIN');
    await target.changePin(pin, options.secrets.newPin!);
    pin = options.secrets.newPin!;
    hardened.pin = true;
    credentials.pin = pin;
  }
  if (plan.hardening.changePuk) {
    progress('harden', 'replacing the default PUK');
    await target.changePuk(FACTORY_PUK, options.secrets.newPuk!);
    hardened.puk = true;
    credentials.puk = options.secrets.newPuk!;
  }
  progress('authenticate', 'authenticating with the management key');
  await target.authenticate(inspection, options.secrets, pin);
  if (plan.hardening.newManagementKey) {
    progress('harden', `setting a random ${plan.hardening.newManagementKey.name} management key, PIN-protected on the card`);
    const newKey = deps.random(plan.hardening.newManagementKey.keyLength);
    await target.replaceManagementKey(plan.hardening.newManagementKey, newKey, pin, deps.now());
    // Kept (as hex, for the escrow) only when someone listens; the bytes are wiped either way.
    if (credentialsSet) credentials.managementKey = { hex: toHex(newKey), algorithm: plan.hardening.newManagementKey.name };
    wipe(newKey);
    hardened.managementKey = plan.hardening.newManagementKey.name;
  }
  if (credentialsSet && (credentials.pin !== undefined || credentials.puk !== undefined || credentials.managementKey)) await credentialsSet(credentials);

  // 2. The key.
  const algorithm = plan.key.algorithm;
  const policy = { pinPolicy: plan.key.pinPolicy, touchPolicy: plan.key.touchPolicy };
  let publicKey: KeyObject;
  let attestationDer: Uint8Array | undefined;
  let attestationDeviceDer: Uint8Array | undefined;
  const files: string[] = [];
  switch (plan.key.action) {
    case 'generate-on-card':
      progress('key', `generating an ${algorithm.name} key on the card in slot ${slotName}`);
      ({ publicKey, attestationDer, deviceCertificateDer: attestationDeviceDer } = await target.generateKey(slot, algorithm, policy));
      break;
    case 'import-host-key': {
      progress('key', `making an ${algorithm.name} key on this computer and importing it into slot ${slotName}`);
      const pair = await hostKey!;
      if (options.backupKey) {
        await writeKeyBackup(options.backupKey, pair.privateKey, options.secrets.keyPassphrase!);
        files.push(options.backupKey);
      }
      await target.importKey(slot, pair.privateKey, policy);
      publicKey = pair.publicKey;
      break;
    }
    case 'import-file': {
      const { file, privateKey } = options.keySource as { file: string; privateKey: KeyObject };
      progress('key', `importing the key from ${file} into slot ${slotName}`);
      await target.importKey(slot, privateKey, policy);
      publicKey = createPublicKey(privateKey);
      break;
    }
    case 'keep-existing':
      progress('key', `keeping the ${algorithm.name} key already in slot ${slotName}`);
      publicKey = inspection.slot.publicKey!;
      break;
    case 'move-staged': {
      const staged = options.keySource as { from: number; publicKey: KeyObject };
      progress('key', `moving the key generated for this re-key from slot ${slotHex(staged.from)} into slot ${slotName}`);
      ({ attestationDer, deviceCertificateDer: attestationDeviceDer } = await target.moveStagedKey!(staged.from, slot));
      publicKey = staged.publicKey;
      break;
    }
  }

  // 3. The certificate, signed by the card, then a fresh CHUID so hosts that cache by GUID re-read the card.
  const pinPolicy = plan.key.action === 'keep-existing' ? (inspection.slot.pinPolicy ?? PIN_POLICY.ALWAYS) : effectivePinPolicy(slot, plan.key.pinPolicy);
  const cardKey = await target.signingKey(slot, algorithm, publicKey, pinPolicy, pin);
  if (plan.certificate.request !== undefined) {
    // enroll --csr: a request for an X.509 CA instead, and the enrollment stops after it (the CA's certificate comes later).
    const file = plan.certificate.request;
    progress('certificate', `signing a certificate request for ${plan.certificate.subject}`);
    const intermediate = attestationDer ? await target.attestationIntermediate?.() : undefined;
    const request = await buildCardRequest({
      key: cardKey, algorithm, publicKey, subject: options.subject, hash: options.hash,
      attestation: attestationDer && intermediate ? { attestation: attestationDer, intermediate } : undefined,
    });
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, request.pem, { mode: 0o644 });
    files.push(file);
    progress('export', 'exporting the SSH public key');
    files.push(...(await exportFiles(options.outDir, slotName, publicKey, options.comment, undefined, attestationDer, attestationDeviceDer)));
    return {
      card: plan.cardName, serial: plan.serial, slot: slotName, algorithm: algorithm.name, keyAction: plan.key.action, publicKey,
      authorizedKey: authorizedKeysLine(publicKey, options.comment), fingerprint: sshFingerprint(publicKey),
      request: { file, subject: plan.certificate.subject, attested: intermediate !== undefined }, attestationDer, verification: [], files, hardened,
    };
  }
  progress('certificate', `writing a self-signed certificate for ${plan.certificate.subject}`);
  const now = deps.now();
  const serialNumber = deps.random(16);
  serialNumber[0]! &= 0x7f; // a positive INTEGER
  serialNumber[0]! |= 0x01; // and never a leading zero byte, so it stays 16 bytes
  const notBefore = new Date(now.getTime() - 5 * 60_000); // a little slack for hosts whose clock is behind
  const certificateDer = await buildCertificate(
    {
      serialNumber,
      subject: options.subject,
      issuer: options.subject,
      notBefore,
      notAfter: new Date(now.getTime() + options.validDays * 86_400_000),
      subjectPublicKeyInfo: spkiDer(publicKey),
      extensions: [],
      signatureAlgorithm: certificateSignatureAlgorithm(algorithm, options.hash),
    },
    cardTbsSigner(cardKey, options.hash),
  );
  // The card's own signature on its certificate is the first signature it makes: check it before writing.
  if (!new X509Certificate(certificateDer).verify(publicKey)) {
    throw new EnrollmentError(`the card returned an invalid signature on the certificate. ${BAD_SIGNATURE_ADVICE}`);
  }
  await target.putCertificate(slot, certificateDer);
  const guid = deps.random(16);
  const chuidWritten = await target.writeChuid(guid);

  // 4. Export.
  progress('export', 'exporting the SSH public key');
  const authorizedKey = authorizedKeysLine(publicKey, options.comment);
  const fingerprint = sshFingerprint(publicKey);
  files.push(...(await exportFiles(options.outDir, slotName, publicKey, options.comment, certificateDer, attestationDer, attestationDeviceDer)));

  // 5. Verify every SSH signature algorithm the key has, through the card, against the exported key.
  progress('verify', 'checking the card signatures');
  // The certificate's signature (checked above) already proves the SSH algorithm with the same hash: no second one.
  // Over APDUs it proves an RSA key's other two as well. There the card signs RSA raw: piv-enroll builds the whole
  // PKCS#1 v1.5 block (padding and DigestInfo, session.signDigest) and the card applies the private key to 256 opaque
  // bytes (GENERAL AUTHENTICATE, NIST SP 800-73-4 part 2 §3.2.4): it cannot tell which hash is inside, so the
  // certificate's signature, verified against the exported key, is the very card operation rsa-sha2-512 and ssh-rsa
  // would repeat. What those two would add is a check of our own block for SHA-512 and SHA-1, which
  // test/unit/pkcs1.test.ts holds against node:crypto for every hash. So the APDU path makes no further RSA
  // signature (~160 ms each on a YubiKey 5 with a PIN-always key, a VERIFY included). Each PKCS#11 path, the one
  // ssh -I uses, then signs once with the module's own padding (CKM_RSA_PKCS over a DigestInfo, as ssh -I does), and
  // all three algorithms with --sign-every-algorithm (enroll-card.ts, checkThroughModules).
  const signatures = cardKey.path === 'apdu' ? 'one-per-path' : 'every-algorithm';
  const verification = await verifyCardSignatures(cardKey, publicKey, deps.random, { hash: options.hash }, signatures);
  const failed = verification.filter((c) => !c.valid && !c.legacy && !c.unsupported);
  if (failed.length > 0) {
    throw new EnrollmentError(`the card returned invalid signatures for ${failed.map((c) => c.algorithm).join(', ')}. ${BAD_SIGNATURE_ADVICE}`);
  }

  const summary = { subject: plan.certificate.subject, serial: toHex(serialNumber), notAfter: new Date(now.getTime() + options.validDays * 86_400_000).toISOString() };
  return {
    card: plan.cardName,
    serial: plan.serial,
    slot: slotName,
    algorithm: algorithm.name,
    keyAction: plan.key.action,
    publicKey,
    authorizedKey,
    fingerprint,
    certificateDer,
    certificate: summary,
    attestationDer,
    attestationDeviceDer,
    chuidGuid: chuidWritten ? toHex(guid) : undefined,
    verification,
    files,
    hardened,
  };
}
