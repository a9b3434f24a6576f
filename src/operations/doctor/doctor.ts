/**
 * `piv-enroll doctor`: which link is broken between the card and sshd. Card checks and raw-APDU signatures
 * while we hold the card; then, with the card released, signatures through each PKCS#11 module and logins to
 * a host, once per algorithm. Findings carry concrete advice.
 */
import { randomBytes } from 'node:crypto';
import type { PivSession } from '../../piv/session.js';
import { formatFirmwareVersion } from '../../standards/firmware.js';
import { PIN_POLICY } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { inspectCard } from '../enroll/inspect.js';
import { pivCardKey } from '../enroll/card-signer.js';
import { verifyCardSignatures, type SignatureCheck } from '../enroll/verify.js';
import type { Pkcs11Module } from '../pkcs11-modules.js';
import { verifyThroughPkcs11 } from '../pkcs11-verify.js';
import { authorizedKeysLine, sshSignatureAlgorithms } from '../ssh-public-key.js';
import { judgePlannedKey } from '../policy/enforce.js';
import type { SitePolicy } from '../policy/types.js';
import { checkAttestation, checkCard } from './card-checks.js';
import type { AttestationTrust } from '../attestation/roots.js';
import { worst, type Finding, type Severity } from './findings.js';
import { certificateSignatureAlgorithm, checkHost, probeHostKey, type HostAccess, type HostCheck, type HostTarget } from './host-check.js';

export interface DoctorOptions extends HostAccess {
  slot: number;
  pin: string;
  modules: Pkcs11Module[];
  host?: HostTarget;
  /** An OpenSSH user certificate of the card key (from an SSH CA), checked and tried with --host. */
  certificate?: string;
  now: Date;
  /** A site policy: the slot's key is judged by each of its rules (and the built-in known-weak ones). */
  policy?: SitePolicy;
  /** Whom the slot key's attestation may chain to (chosen by how the card was opened); absent: not judged. */
  attestationTrust?: AttestationTrust;
}

export interface DoctorReport {
  card: string;
  firmware: string;
  serial?: number;
  slot: string;
  /** The site policy file the key was judged by. */
  policy?: string;
  status: Severity;
  findings: Finding[];
  signatures: SignatureCheck[];
  hosts: HostCheck[];
}

const CLIENT_ADVICE =
  'the client signs badly: PuTTY-CAC through Windows CAPI signs with SHA-1 before its rsa-sha2 support (use its PKCS#11 mode, ' +
  'or a release with rsa-sha2-256/512); remove a vendor minidriver that returns bad signatures; with OpenSSH use -I opensc-pkcs11.so ' +
  'and PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256 (templates/windows-guide.md explains it for Windows users)';

function signatureFindings(checks: SignatureCheck[]): Finding[] {
  const findings: Finding[] = [];
  const failedToSign = checks.filter((c) => !c.valid && c.error !== undefined && !c.unsupported);
  const badApdu = checks.filter((c) => c.path === 'apdu' && !c.valid && c.error === undefined);
  const badModules = checks.filter((c) => c.path === 'pkcs11' && !c.valid && c.error === undefined && !c.legacy);
  for (const check of failedToSign) {
    findings.push({
      id: 'signature-error',
      area: 'signatures',
      severity: 'problem',
      summary: `${check.algorithm} through ${check.module ?? 'raw APDUs'} could not be made: ${check.error}`,
    });
  }
  if (badApdu.length > 0) {
    findings.push({
      id: 'card-invalid-signatures',
      area: 'signatures',
      severity: 'problem',
      summary: `the card returns invalid signatures (${badApdu.map((c) => c.algorithm).join(', ')}): a server accepts the key, then refuses every login`,
      advice: 'replace the card; if it is new, re-enroll it once (piv-enroll enroll --force) and check again',
    });
  } else if (badModules.length > 0) {
    const modules = [...new Set(badModules.map((c) => c.module))].join(', ');
    findings.push({
      id: 'module-invalid-signatures',
      area: 'signatures',
      severity: 'problem',
      summary: `signatures through ${modules} are invalid although the card's own are valid: the driver or module is at fault`,
      advice: `update or replace ${modules}; on Windows remove a vendor minidriver that returns bad signatures and use OpenSC or ykcs11`,
    });
  } else if (failedToSign.length === 0) {
    findings.push({ id: 'signatures-valid', area: 'signatures', severity: 'ok', summary: `the card signs ${[...new Set(checks.map((c) => c.algorithm))].join(', ')} correctly on every path checked` });
  }
  return findings;
}

function hostFindings(target: HostTarget, checks: HostCheck[], cardSignsBadly: boolean, certificateSignedWithSha1: boolean): Finding[] {
  const where = `${target.user ? `${target.user}@` : ''}${target.host}${target.port ? `:${target.port}` : ''}`;
  const version = checks.find((c) => c.serverVersion)?.serverVersion;
  const findings: Finding[] = [];
  const modern = checks.filter((c) => c.algorithm !== 'ssh-rsa');
  for (const check of checks) {
    const label = check.algorithm === 'host key' ? where : `${where}, ${check.algorithm}`; // the probe before any login
    if (check.algorithm === 'certificate') {
      findings.push(
        check.outcome === 'ok'
          ? { id: 'certificate-login-ok', area: 'host', severity: 'ok', summary: `${where}: certificate login works` }
          : {
              id: 'certificate-refused',
              area: 'host',
              severity: 'problem',
              summary: `${where}: certificate refused${certificateSignedWithSha1 ? " because of its CA's signature algorithm (ssh-rsa, SHA-1)" : ` (${check.detail ?? check.outcome})`}`,
              advice: certificateSignedWithSha1
                ? 're-sign the certificate with rsa-sha2-512'
                : 'check TrustedUserCAKeys, the principals (the login name must be one) and the validity on the server',
            },
      );
      continue;
    }
    switch (check.outcome) {
      case 'ok':
        findings.push({ id: 'login-ok', area: 'host', severity: 'ok', summary: `${label}: login works` });
        break;
      case 'signature-refused':
        findings.push({
          id: 'key-accepted-signature-refused',
          area: 'host',
          severity: 'problem',
          summary: `${label}: key accepted, signature refused — "Server refused public-key signature despite accepting key"`,
          advice: cardSignsBadly ? 'the card returns invalid signatures (see above): replace the card' : CLIENT_ADVICE,
        });
        break;
      case 'no-common-algorithm': {
        const othersWork = modern.some((c) => c.outcome === 'ok');
        findings.push({
          id: 'no-common-signature-algorithm',
          area: 'host',
          severity: check.algorithm === 'ssh-rsa' && othersWork ? 'warning' : 'problem',
          summary: `${label}: no common signature algorithm${version ? ` (${version} refuses ${check.algorithm})` : ''}: a client limited to it cannot log in`,
          advice:
            check.algorithm === 'ssh-rsa'
              ? 'OpenSSH 8.8+ refuses SHA-1 ssh-rsa signatures: update the client to one with rsa-sha2-256/512 (PuTTY 0.75+, PuTTY-CAC in PKCS#11 mode); do not re-enable ssh-rsa on the server'
              : 'allow the algorithm in the server\'s PubkeyAcceptedAlgorithms, or use a key type it accepts',
        });
        break;
      }
      case 'key-not-authorized':
        findings.push({ id: 'key-not-authorized', area: 'host', severity: 'problem', summary: `${label}: the server does not accept this key for the user`, advice: 'deploy the key: add the line from `piv-enroll export` to ~/.ssh/authorized_keys on the host' });
        break;
      case 'host-key-problem':
        findings.push({ id: 'host-key', area: 'host', severity: 'problem', summary: `${label}: ${check.detail}`, advice: 'verify the host key out of band; for a first contact add --accept-new-host-keys' });
        break;
      case 'unknown-host-key':
        findings.push({ id: 'unknown-host-key', area: 'host', severity: 'problem', summary: `${where}: the host key is not known (nothing was tried, no PIN sent)`, advice: 'verify the host key out of band, then add it to known_hosts (--known-hosts FILE), or accept it on this first contact with --accept-new-host-keys' });
        break;
      case 'changed-host-key':
        findings.push({ id: 'changed-host-key', area: 'host', severity: 'problem', summary: `${where}: the host key differs from the one in known_hosts — a reinstalled server, or an attack (nothing was tried, no PIN sent)`, advice: 'find out why the key changed before logging in; then replace its entry (ssh-keygen -R HOST)' });
        break;
      case 'unreachable':
        findings.push({ id: 'unreachable', area: 'host', severity: 'problem', summary: `${label}: unreachable (${check.detail ?? 'no connection'})`, advice: 'check the host name, port and network' });
        break;
      default:
        findings.push({ id: check.outcome, area: 'host', severity: 'problem', summary: `${label}: ${check.detail ?? check.outcome}` });
    }
  }
  return findings;
}

/** Each rule of the policy on the slot's key, as the card reports it (metadata, Management application). */
function policyFindings(policy: SitePolicy, inspection: Awaited<ReturnType<typeof inspectCard>>): Finding[] {
  const { slot } = inspection;
  if (!slot.keyAlgorithm) return [{ id: 'policy-no-key', area: 'policy', severity: 'warning', summary: `no key in the slot to judge by the policy ${policy.file}` }];
  const verdict = judgePlannedKey(policy, {
    keyOrigin: slot.keyOrigin, algorithm: slot.keyAlgorithm.name, pinPolicy: slot.pinPolicy, touchPolicy: slot.touchPolicy,
    firmware: inspection.firmware, device: inspection.device,
  });
  return verdict.results.map((r) => ({ id: `policy-${r.rule}`, area: 'policy', severity: r.status, summary: `${r.rule}: ${r.message}` }));
}

/** Runs the card part with `session`; the caller releases the card, then calls `finish` for PKCS#11 and hosts. */
export async function examineCard(session: PivSession, options: DoctorOptions) {
  const inspection = await inspectCard(session, options.slot, options.policy !== undefined);
  const findings = await checkCard(session, inspection, options.slot, options.now);
  if (options.policy) findings.push(...policyFindings(options.policy, inspection));
  if (options.attestationTrust) findings.push(...(await checkAttestation(session, inspection, options.slot, options.attestationTrust, options.now)));
  const signatures: SignatureCheck[] = [];
  const algorithm = inspection.slot.keyAlgorithm;
  const publicKey = inspection.slot.publicKey;
  if (algorithm && publicKey) {
    await session.verifyPin(options.pin); // a wrong PIN stops the doctor here, with the tries left, instead of looking like bad signatures
    const key = pivCardKey({ session, slot: options.slot, algorithm, pinPolicy: inspection.slot.pinPolicy ?? PIN_POLICY.ALWAYS, pin: options.pin });
    signatures.push(...(await verifyCardSignatures(key, publicKey, (n) => new Uint8Array(randomBytes(n)))));
  }
  const partial = {
    card: inspection.cardName,
    firmware: formatFirmwareVersion(inspection.firmware),
    serial: inspection.serial,
    slot: slotHex(options.slot),
    policy: options.policy?.file,
  };
  return {
    async finish(readerName: string | undefined): Promise<DoctorReport> {
      if (algorithm && publicKey && readerName) {
        for (const module of options.modules) {
          signatures.push(...(await verifyThroughPkcs11({ module, reader: readerName, slot: options.slot, algorithm, publicKey, pin: options.pin, random: (n) => new Uint8Array(randomBytes(n)) })));
        }
      }
      if (signatures.length > 0) findings.push(...signatureFindings(signatures));
      let certificateSignedWithSha1 = false;
      if (options.certificate) {
        const algorithmUsed = await certificateSignatureAlgorithm(options.certificate);
        certificateSignedWithSha1 = algorithmUsed === 'ssh-rsa';
        findings.push(
          certificateSignedWithSha1
            ? {
                id: 'certificate-ca-sha1',
                area: 'host',
                severity: 'problem',
                summary: `the SSH certificate was signed by its CA with ssh-rsa (SHA-1): OpenSSH 8.2+ refuses it (CASignatureAlgorithms)`,
                advice: 'have the CA sign it again with rsa-sha2-512 (ssh-keygen -s ca -t rsa-sha2-512, its default), or with piv-enroll\'s CA',
              }
            : { id: 'certificate-ca-algorithm', area: 'host', severity: 'ok', summary: `the SSH certificate's CA signature uses ${algorithmUsed ?? 'an unknown algorithm'}` },
        );
      }
      const hosts: HostCheck[] = [];
      if (options.host && algorithm && publicKey) {
        const module = options.modules[0];
        // Before any PIN goes to ssh: an unknown or changed host key (or no connection) is the finding, and no login is tried.
        const hostKey = await probeHostKey(options.host, options);
        if (hostKey) {
          hosts.push(hostKey);
          findings.push(...hostFindings(options.host, hosts, false, false));
        } else if (!module) {
          findings.push({ id: 'no-pkcs11-module', area: 'host', severity: 'problem', summary: 'no PKCS#11 module to log in with', advice: 'install OpenSC (apt-get install opensc-pkcs11) or give --module PATH' });
        } else if (!readerName) {
          findings.push({ id: 'virtual-card-host', area: 'host', severity: 'warning', summary: 'the embedded virtual card cannot log in to hosts (no PKCS#11 module reaches it): serve it behind pcscd' });
        } else {
          hosts.push(
            ...(await checkHost({
              target: options.host,
              module: module.path,
              algorithms: sshSignatureAlgorithms(algorithm).map((a) => a.name),
              pin: options.pin,
              publicKeyLine: authorizedKeysLine(publicKey),
              certificate: options.certificate,
              certificateAlgorithms: sshSignatureAlgorithms(algorithm).filter((a) => !a.legacy).map((a) => `${a.name}-cert-v01@openssh.com`).join(','),
              knownHostsFile: options.knownHostsFile,
              acceptNewHostKeys: options.acceptNewHostKeys,
              sshOptions: options.sshOptions,
            })),
          );
          findings.push(...hostFindings(options.host, hosts, signatures.some((c) => c.path === 'apdu' && !c.valid), certificateSignedWithSha1));
        }
      }
      return { ...partial, status: worst(findings), findings, signatures, hosts };
    },
  };
}
