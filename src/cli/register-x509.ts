/** `request` and `certificate import`: the X.509 CA path (issue 17). Flags only; the command modules load lazily. */
import type { Command } from 'commander';
import { addCardOptions, cardSelection, type WithCardFlags } from './card-options.js';
import type { Output } from './output.js';
import type { CertificateImportFlags } from './commands/certificate.js';
import type { RequestFlags } from './commands/request.js';

export function registerX509Commands(program: Command, output: Output, setExit: (code: number) => void): void {
  addCardOptions(program.command('request').description('make a PKCS#10 certificate request signed by the card, for an X.509 CA (AD CS, step-ca, EJBCA, openssl)'))
    .option('--slot <slot>', 'PIV slot whose key signs the request', '9c')
    .option('--subject <dn>', 'the subject, RFC 4514 (e.g. "CN=gofish543,O=Example")')
    .option('--user <name>', 'or the subject CN=NAME')
    .option('--attest', 'put the key\'s attestation and the card\'s f9 certificate into the request (a key generated on the card; as yubico-piv-tool)')
    .option('--hash <name>', 'SHA256, SHA384 or SHA512 (never SHA1)', 'SHA256')
    .option('--out <file>', 'write the request (PEM) to FILE instead of printing it')
    .option('--pin-file <file>', 'read the PIN from FILE (or set PIV_PIN; else asked on a terminal)')
    .option('--yes', 'never ask: fail with what is missing instead')
    .option('--json', 'print one JSON object (the PEM in it)')
    .action(async (flags: WithCardFlags<RequestFlags>) => {
      const [{ runRequest }, { defaultX509Environment }] = await Promise.all([import('./commands/request.js'), import('./x509-environment.js')]);
      setExit(await runRequest({ ...flags, ...cardSelection(flags) }, output, defaultX509Environment(flags.yes)));
    });

  const certificate = program.command('certificate').description('X.509 certificates of card slots: import the one a CA issued');
  addCardOptions(certificate.command('import').description('write the certificate a CA issued into its slot: checked against the slot\'s key, compressed when large, CHUID refreshed'))
    .argument('<file>', 'the certificate, PEM or DER')
    .option('--slot <slot>', 'PIV slot whose key the certificate certifies', '9c')
    .option('--pin-file <file>', 'the PIN, for a PIN-protected management key (or PIV_PIN; else asked on a terminal)')
    .option('--management-key-file <file>', 'the management key in hex, when the card does not keep it PIN-protected (or PIV_MANAGEMENT_KEY)')
    .option('--yes', 'never ask: fail with what is missing instead')
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: WithCardFlags<CertificateImportFlags>) => {
      const [{ runCertificateImport }, { defaultX509Environment }] = await Promise.all([import('./commands/certificate.js'), import('./x509-environment.js')]);
      setExit(await runCertificateImport(file, { ...flags, ...cardSelection(flags) }, output, defaultX509Environment(flags.yes)));
    });
}
