/**
 * `--attestation-roots FILE…` and `--require-attestation`, shared by enroll, batch and rekey (and ca sign's own
 * variant): one wording, one way from flags to the AttestationRequirement the workflows take.
 */
import { Option, type Command } from 'commander';
import { siteAttestationTrust, type AttestationRequirement } from '../operations/attestation/evidence.js';
import { collect } from './card-options.js';

export interface AttestationFlags {
  attestationRoots?: string[];
  requireAttestation?: boolean;
}

export function addAttestationOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--attestation-roots <file>', 'also trust the PEM certificates in FILE for the attestation of a card-generated key (repeatable; self-signed ones are roots, the others intermediates)').argParser(collect),
    )
    .option('--require-attestation', 'stop unless the card-generated key\'s attestation verifies (Yubico\'s roots, --attestation-roots; the virtual card test root only for --virtual)');
}

/** Yubico's roots and the site's files, read now: a bad file stops the command before the card is touched. */
export async function attestationRequirement(flags: AttestationFlags): Promise<AttestationRequirement> {
  return { trust: await siteAttestationTrust(flags.attestationRoots ?? []), required: flags.requireAttestation ?? false };
}
