/**
 * `piv-enroll request`: a PKCS#10 certificate request signed by the card, for an X.509 CA (AD CS, step-ca, EJBCA,
 * openssl). Flags become RequestCertificateOptions; the PIN comes from --pin-file, PIV_PIN or (on a terminal) a hidden
 * prompt, and only when the key's PIN policy needs it. The CA's certificate goes back with `certificate import`.
 */
import { writeFile } from 'node:fs/promises';
import type { NameAttribute } from '../../crypto/x509.js';
import { UsageError, usageProblemCollector } from '../../errors.js';
import { parseDistinguishedName } from '../../operations/distinguished-name.js';
import { subjectForUser } from '../../operations/enroll/enroll-inputs.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { requestCertificate } from '../../operations/x509/request-certificate.js';
import { parseSlot } from '../../standards/references.js';
import type { Output } from '../output.js';
import { parseRequestHash, pinSource, type X509Environment } from '../x509-environment.js';

export interface RequestFlags extends CardSelection {
  slot: string;
  subject?: string;
  user?: string;
  attest?: boolean;
  hash?: string;
  out?: string;
  json?: boolean;
  pinFile?: string;
  yes?: boolean;
}

export async function runRequest(flags: RequestFlags, output: Output, environment: X509Environment): Promise<number> {
  const problems: string[] = [];
  const collect = usageProblemCollector(problems);
  const slot = parseSlot(flags.slot);
  if (slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  const hash = collect(() => parseRequestHash(flags.hash));
  let subject: NameAttribute[] | undefined;
  if (flags.subject !== undefined && flags.user !== undefined) problems.push('--subject and --user both name the subject: give one');
  else if (flags.subject !== undefined) subject = collect(() => parseDistinguishedName(flags.subject!));
  else if (flags.user !== undefined) subject = collect(() => subjectForUser(flags.user!));
  else problems.push('missing: the subject (--subject "CN=…,O=…" or --user NAME)');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const card = await openCard(flags);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    const result = await requestCertificate(
      { session: card.session, slot: slot!, subject: subject!, hash: hash!, attest: flags.attest ?? false },
      { pin: pinSource(flags, environment), progress: (message) => (flags.json ? undefined : output.notice(message)) },
    );
    if (flags.out !== undefined) await writeFile(flags.out, result.pem, { mode: 0o644 });
    const next = `Send it to the CA; import the certificate it issues with: piv-enroll certificate import --slot ${result.slot} FILE`;
    if (flags.json) {
      const { der: _der, ...rest } = result;
      output.result(JSON.stringify({ ...rest, file: flags.out }, null, 2));
    } else if (flags.out !== undefined) {
      output.result(`Wrote ${flags.out}: ${result.subject}, ${result.algorithm} key of slot ${result.slot} (${result.fingerprint}), ${result.hash.toUpperCase()}${result.attested ? ', with its attestation' : ''}.\n${next}`);
    } else {
      output.result(result.pem.trimEnd());
      output.notice(next);
    }
    return 0;
  } finally {
    await card.close();
  }
}
