/**
 * `enroll --ca DIR`: the new key gets an OpenSSH certificate from the project's CA right after enrollment,
 * written beside the public key (`--out DIR/piv-9c-cert.pub`). Everything the signature needs (CA present,
 * principals, validity, the CA passphrase or the CA card's PIN) is gathered before the card is touched, so
 * a missing input never leaves an enrolled card without its certificate.
 */
import { join } from 'node:path';
import { PivEnrollError, UsageError, usageProblemCollector } from '../../errors.js';
import { readCaConfig, type CaConfig } from '../../operations/ca/ca-store.js';
import { parsePrincipals } from '../../operations/ca/certificate-options.js';
import { signUserCertificate, unlockSoftwareCa, type CaCredentials, type IssuedCertificate } from '../../operations/ca/sign.js';
import { DEFAULT_VALIDITY, parseValidity } from '../../operations/ca/validity.js';
import type { EnrollmentResult } from '../../operations/enroll/apply.js';
import { openCard } from '../../operations/open-card.js';
import type { Prompter } from '../prompter.js';
import { secretFrom } from '../secrets.js';

export interface EnrollCaFlags {
  ca?: string;
  principals?: string;
  caValidity?: string;
  keyId?: string;
  caPassphraseFile?: string;
  caReader?: string;
  caPinFile?: string;
  out?: string;
  user?: string;
}

export type CaFollowUp = (result: EnrollmentResult, comment: string) => Promise<IssuedCertificate>;

/** Checks and gathers everything up front; returns the step to run after enrollment (undefined without --ca). */
export async function prepareCaFollowUp(
  flags: EnrollCaFlags,
  subjectCn: string | undefined,
  environment: { env: NodeJS.ProcessEnv; interactive: boolean; prompter: Prompter },
): Promise<CaFollowUp | undefined> {
  const caOnly = [flags.principals && '--principals', flags.caValidity && '--ca-validity', flags.keyId && '--key-id', flags.caReader && '--ca-reader'].filter(Boolean);
  if (flags.ca === undefined) {
    if (caOnly.length > 0) throw new UsageError(`${caOnly.join(', ')} only apply with --ca DIR`);
    return undefined;
  }
  const problems: string[] = [];
  const collect = usageProblemCollector(problems);
  if (flags.out === undefined) problems.push('--ca writes the certificate beside the public key: give --out DIR too');
  const principalText = flags.principals ?? subjectCn;
  const principals = principalText === undefined ? undefined : collect(() => parsePrincipals(principalText));
  if (principalText === undefined) problems.push('--ca needs the principals the certificate allows (--principals, default: the --user name)');
  const validitySeconds = collect(() => parseValidity(flags.caValidity ?? DEFAULT_VALIDITY));
  let config: CaConfig | undefined;
  try {
    config = await readCaConfig(flags.ca);
  } catch (error) {
    if (!(error instanceof PivEnrollError)) throw error;
    problems.push(error.message);
  }
  const credentials: CaCredentials = {};
  let caPin: string | undefined;
  if (config?.key.kind === 'file') {
    credentials.passphrase = await secretFrom(flags.caPassphraseFile, 'PIV_CA_PASSPHRASE', 'the CA passphrase', environment.env);
    if (credentials.passphrase === undefined && environment.interactive) credentials.passphrase = await environment.prompter.password('CA passphrase:');
    if (credentials.passphrase === undefined) problems.push('missing: the CA passphrase (PIV_CA_PASSPHRASE or --ca-passphrase-file)');
  } else if (config?.key.kind === 'card') {
    if (flags.caReader === undefined) problems.push('the CA key is on a card: put it in a second reader and name it with --ca-reader TEXT');
    caPin = await secretFrom(flags.caPinFile, 'PIV_CA_PIN', 'the PIN of the CA card', environment.env);
    if (caPin === undefined && environment.interactive) caPin = await environment.prompter.password('PIN of the CA card:');
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  // A wrong passphrase must show now, not after the card has its new key.
  if (config!.key.kind === 'file') credentials.privateKey = await unlockSoftwareCa(flags.ca, config!, credentials.passphrase);

  return async (result, comment) => {
    const request = {
      publicKey: result.publicKey,
      keyId: flags.keyId ?? comment,
      principals: principals!,
      validitySeconds: validitySeconds!,
      comment,
      outFile: join(flags.out!, `piv-${result.slot.toLowerCase()}-cert.pub`),
      force: true, // the file belongs to the key just enrolled; an older one certifies a key that is gone
    };
    if (config!.key.kind === 'file') return signUserCertificate(flags.ca!, request, credentials);
    const card = await openCard({ reader: flags.caReader });
    try {
      return await card.session.transaction(() => signUserCertificate(flags.ca!, request, { card: { session: card.session, ...(caPin === undefined ? {} : { pin: caPin }) } }));
    } finally {
      await card.close();
    }
  };
}
