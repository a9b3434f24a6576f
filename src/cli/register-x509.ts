/** `request` and `certificate import`: the X.509 CA path (issue 17). Flags only; the command modules load lazily. */
import type { Command } from 'commander';
import { addCardOptions, cardSelection, type WithCardFlags } from './card-options.js';
import type { Output } from './output.js';
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
}
