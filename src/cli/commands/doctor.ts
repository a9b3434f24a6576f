/**
 * `piv-enroll doctor`: exit 0 all good (warnings allowed), 1 a problem found, 2 the doctor could not run.
 */
import { PivEnrollError, UsageError } from '../../errors.js';
import { examineCard, type DoctorReport } from '../../operations/doctor/doctor.js';
import { siteAttestationTrust, trustForCard } from '../../operations/attestation/evidence.js';
import { checkSshOptions } from '../../operations/deploy/ssh-client.js';
import { DOCTOR_RESERVED_OPTIONS, parseHostSpec } from '../../operations/doctor/host-check.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { selectPkcs11Modules } from '../../operations/pkcs11-modules.js';
import { resolvePolicy } from '../../operations/policy/resolve.js';
import { FACTORY_PIN } from '../../standards/factory-defaults.js';
import { parseSlot } from '../../standards/references.js';
import type { HostAccessFlags } from '../card-options.js';
import type { Output } from '../output.js';
import { secretFrom } from '../secrets.js';

export interface DoctorFlags extends CardSelection, HostAccessFlags {
  slot: string;
  module?: string[];
  host?: string;
  certificate?: string;
  json?: boolean;
  pinFile?: string;
  /** The site policy file (none: no policy). */
  policy?: string;
  attestationRoots?: string[];
}

/** Anything that keeps the doctor from examining: exit status 2. */
export class DoctorCouldNotRunError extends PivEnrollError {
  override readonly exitCode = 2;
}

const MARK = { ok: 'ok  ', warning: 'WARN', problem: 'FAIL' } as const;

export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`Card: ${report.card}, firmware ${report.firmware}${report.serial !== undefined ? `, serial ${report.serial}` : ''}, slot ${report.slot}`];
  const headings = { card: 'Card', signatures: 'Signatures', host: 'Host', policy: `Site policy ${report.policy ?? ''}`.trimEnd() } as const;
  for (const area of ['card', 'signatures', 'host', 'policy'] as const) {
    const findings = report.findings.filter((f) => f.area === area);
    if (findings.length === 0) continue;
    lines.push('', headings[area]);
    for (const f of findings) {
      lines.push(`  ${MARK[f.severity]} ${f.summary}`);
      if (f.advice && f.severity !== 'ok') lines.push(`       → ${f.advice}`);
    }
  }
  if (report.signatures.length > 0) {
    lines.push('', 'Signature matrix (algorithm × path):');
    for (const c of report.signatures) {
      const state = c.valid ? 'valid' : c.unsupported ? 'n/a' : c.error ? 'error' : 'INVALID';
      lines.push(`  ${c.algorithm.padEnd(20)} ${(c.module ? `pkcs11 ${c.module}` : 'apdu').padEnd(16)} ${state}${c.legacy ? ' (legacy SHA-1)' : ''}`);
    }
  }
  const version = report.hosts.find((h) => h.serverVersion);
  if (version) lines.push('', `Server: ${version.serverVersion}${version.serverSignatureAlgorithms ? `, offers ${version.serverSignatureAlgorithms.join(', ')}` : ''}`);
  lines.push('', report.status === 'ok' ? 'All good.' : report.status === 'warning' ? 'Usable, with warnings.' : 'Problems found.');
  return lines.join('\n');
}

export async function runDoctor(flags: DoctorFlags, output: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const slot = parseSlot(flags.slot);
  if (slot === undefined) throw new UsageError(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  const host = flags.host === undefined ? undefined : parseHostSpec(flags.host);
  const sshOptions = flags.sshOption ?? [];
  const problems = checkSshOptions(sshOptions, DOCTOR_RESERVED_OPTIONS);
  if (flags.identity !== undefined) problems.push('--identity: the doctor logs in with the card\'s key only (through its PKCS#11 module), never with a key file');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const hostAccess = { knownHostsFile: flags.knownHosts, acceptNewHostKeys: flags.acceptNewHostKeys ?? false, sshOptions };
  const modules = (flags.module ?? ['auto']).flatMap((m) => selectPkcs11Modules(m));
  const policy = await resolvePolicy(flags.policy, env);
  let card;
  try {
    card = await openCard(flags);
  } catch (error) {
    if (error instanceof PivEnrollError && !(error instanceof UsageError)) throw new DoctorCouldNotRunError(error.message, { cause: error });
    throw error;
  }
  let examination;
  try {
    const session = card.session;
    const pin = (await secretFrom(flags.pinFile, 'PIV_PIN', 'the PIN', env)) ?? ((await session.getPinMetadata().catch(() => undefined))?.isDefault ? FACTORY_PIN : undefined);
    if (pin === undefined) throw new DoctorCouldNotRunError('the doctor needs the PIN to test signatures: set PIV_PIN or give --pin-file');
    // The virtual card test root only for the embedded virtual card, never for a card in a reader.
    const attestationTrust = await trustForCard(await siteAttestationTrust(flags.attestationRoots ?? []), card.readerName === undefined);
    examination = await session.transaction(() => examineCard(session, { slot, pin, modules, host, certificate: flags.certificate, ...hostAccess, now: new Date(), policy, attestationTrust }));
  } catch (error) {
    if (error instanceof PivEnrollError && !(error instanceof DoctorCouldNotRunError) && !(error instanceof UsageError)) {
      throw new DoctorCouldNotRunError(error.message, { cause: error });
    }
    throw error;
  } finally {
    await card.close(); // PKCS#11 modules and ssh need the card to themselves
  }
  const report = await examination.finish(card.readerName);
  output.result(flags.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.status === 'problem' ? 1 : 0;
}
