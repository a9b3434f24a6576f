/**
 * The SSH CA step of an enrollment: the new key gets an OpenSSH certificate from the project's CA right after it is
 * enrolled, written beside the public key (OUT/piv-9c-cert.pub). Everything the signature needs (the CA present,
 * principals, validity, the CA passphrase or the CA card's PIN) is gathered and checked before the card is touched,
 * so a missing input never leaves an enrolled card without its certificate.
 */
import { join } from 'node:path';
import { PivEnrollError, UsageError, usageProblemCollector } from '../../errors.js';
import { readCaConfig, type CaConfig } from '../ca/ca-store.js';
import { parsePrincipals } from '../ca/certificate-options.js';
import { signUserCertificate, unlockSoftwareCa, type CaCredentials, type IssuedCertificate } from '../ca/sign.js';
import { DEFAULT_VALIDITY, parseValidity } from '../ca/validity.js';
import { openCard } from '../open-card.js';
import type { EnrollmentResult } from './apply.js';

export interface CaStepRequest {
  /** The CA directory (piv-enroll ca init). */
  dir: string;
  /** Comma-separated; default the subject's CN. */
  principals?: string;
  /** e.g. 30d; default the CA's default. */
  validity?: string;
  keyId?: string;
  /** Where the certificate goes (beside the public key). */
  outDir?: string;
  /** A CA key on a card: the reader holding that card, and its PIN. */
  caReader?: string;
  caPin?: string;
  /** A software CA's passphrase. */
  passphrase?: string;
}

/** Asks for a CA secret not given (a person at a terminal), or undefined. */
export type AskCaSecret = (what: 'the CA passphrase' | 'the PIN of the CA card') => Promise<string | undefined>;

export type CaStep = (result: EnrollmentResult, comment: string) => Promise<IssuedCertificate>;

/** Checks and gathers everything up front (a wrong passphrase shows now); returns the step to run after enrollment. */
export async function prepareCaStep(request: CaStepRequest, subjectCn: string | undefined, ask: AskCaSecret = async () => undefined): Promise<CaStep> {
  const problems: string[] = [];
  const collect = usageProblemCollector(problems);
  if (request.outDir === undefined) problems.push('--ca writes the certificate beside the public key: give --out DIR too');
  const principalText = request.principals ?? subjectCn;
  const principals = principalText === undefined ? undefined : collect(() => parsePrincipals(principalText));
  if (principalText === undefined) problems.push('--ca needs the principals the certificate allows (--principals, default: the --user name)');
  const validitySeconds = collect(() => parseValidity(request.validity ?? DEFAULT_VALIDITY));
  let config: CaConfig | undefined;
  try {
    config = await readCaConfig(request.dir);
  } catch (error) {
    if (!(error instanceof PivEnrollError)) throw error;
    problems.push(error.message);
  }
  const credentials: CaCredentials = {};
  let caPin = request.caPin;
  if (config?.key.kind === 'file') {
    credentials.passphrase = request.passphrase ?? (await ask('the CA passphrase'));
    if (credentials.passphrase === undefined) problems.push('missing: the CA passphrase (PIV_CA_PASSPHRASE or --ca-passphrase-file)');
  } else if (config?.key.kind === 'card') {
    if (request.caReader === undefined) problems.push('the CA key is on a card: put it in a second reader and name it with --ca-reader TEXT');
    caPin ??= await ask('the PIN of the CA card');
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  if (config!.key.kind === 'file') credentials.privateKey = await unlockSoftwareCa(request.dir, config!, credentials.passphrase);

  return async (result, comment) => {
    const certificate = {
      publicKey: result.publicKey,
      keyId: request.keyId ?? comment,
      principals: principals!,
      validitySeconds: validitySeconds!,
      comment,
      outFile: join(request.outDir!, `piv-${result.slot.toLowerCase()}-cert.pub`),
      force: true, // the file belongs to the key just enrolled; an older one certifies a key that is gone
    };
    if (config!.key.kind === 'file') return signUserCertificate(request.dir, certificate, credentials);
    const card = await openCard({ reader: request.caReader });
    try {
      return await card.session.transaction(() => signUserCertificate(request.dir, certificate, { card: { session: card.session, ...(caPin === undefined ? {} : { pin: caPin }) } }));
    } finally {
      await card.close();
    }
  };
}
