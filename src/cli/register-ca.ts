/** `ca init|sign|revoke|check-revoked`: the SSH certificate authority (issue 5 part 2). Flags only; the command module is imported lazily. */
import { Command, Option } from 'commander';
import { addCardOptions, addInventoryOption, cardSelection, collect } from './card-options.js';
import type { Output } from './output.js';
import type { CaInitFlags, CaSignFlags } from './commands/ca.js';
import type { CaCheckRevokedFlags, CaRevokeFlags } from './commands/ca-revoke.js';
import type { WithCardFlags } from './card-options.js';

export function registerCaCommands(program: Command, output: Output, setExit: (code: number) => void): void {
  const ca = program.command('ca').description('an SSH certificate authority: user certificates for card keys (software or card CA key), and their revocation (KRL)');

  addCardOptions(ca.command('init').description('create a CA in DIR: the key (encrypted file, or already on a card), serial counter, empty KRL, sshd_config snippet'))
    .requiredOption('--dir <dir>', 'the CA directory (created; must not hold a CA already)')
    .option('--algorithm <name>', 'ed25519, rsa4096 or ecdsa-p256 (default ed25519; with --on-card: what the slot must hold)')
    .option('--on-card', 'the CA key is the key already in a PIV slot (--slot, default 9d): the card signs, the key never leaves it')
    .option('--slot <slot>', 'with --on-card: the slot holding the CA key', '9d')
    .option('--server-dir <dir>', 'where ca.pub and revoked.krl go on servers, for the sshd_config snippet', '/etc/ssh/piv-enroll-ca')
    .option('--principals-file <pattern>', 'also add AuthorizedPrincipalsFile PATTERN to the snippet (e.g. /etc/ssh/auth_principals/%u)')
    .option('--comment <text>', 'comment of ca.pub', 'piv-enroll-ca')
    .option('--passphrase-file <file>', 'the new CA passphrase, 8 characters or more (or PIV_CA_PASSPHRASE; else asked twice on a terminal)')
    .option('--yes', 'never ask: fail with what is missing instead')
    .option('--json', 'print one JSON object')
    .action(async (flags: WithCardFlags<CaInitFlags> & { yes?: boolean }) => {
      const { runCaInit, defaultCaEnvironment } = await import('./commands/ca.js');
      setExit(await runCaInit({ ...flags, ...cardSelection(flags) }, output, defaultCaEnvironment(flags.yes)));
    });

  addInventoryOption(addCardOptions(ca.command('sign').description('write an OpenSSH user certificate (x.pub → x-cert.pub) for a public key file or a card slot')))
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--public-key <file>', 'the public key to certify (an OpenSSH .pub file)')
    .option('--slot <slot>', 'or certify the key in this slot of the selected card (--reader/--virtual)')
    .option('--principals <names>', 'user names the certificate is valid for, separated by commas (required)')
    .option('--key-id <id>', 'the certificate identity, shown in sshd logs and revocable by `ca revoke --key-id` (required)')
    .option('--validity <span>', 'how long it is valid from now: 30d, 12h, 52w, 1w2d… (default 30d; starts 5 minutes back for clock skew)')
    .addOption(new Option('--extension <ext>', 'like ssh-keygen -O (repeatable): clear, no-pty (no-…), permit-pty (permit-…), name@domain[=value]; default the five permit-*').argParser(collect))
    .addOption(new Option('--critical <options>', 'critical options (repeatable): force-command=CMD, source-address=CIDR[,CIDR…], verify-required').argParser(collect))
    .option('--out <file>', 'where to write the certificate (default: next to --public-key as …-cert.pub; piv-SLOT-cert.pub for --slot)')
    .option('--force', 'replace an existing certificate file')
    .option('--comment <text>', 'comment of the certificate line (default: the key id)')
    .option('--passphrase-file <file>', 'software CA: its passphrase (or PIV_CA_PASSPHRASE; else asked on a terminal)')
    .option('--pin-file <file>', 'card CA: the PIN of the CA card (or PIV_PIN; else asked on a terminal)')
    .option('--require-attestation', 'refuse a key without a verified attestation; the key id gets "yubikey-serial=N pin-policy=P touch-policy=T"')
    .option('--attestation <file>', 'with --require-attestation and --public-key: the key\'s attestation certificate (PEM or DER)')
    .option('--attestation-f9 <file>', 'with --attestation: the card\'s f9 device certificate that signed it')
    .addOption(new Option('--attestation-roots <file>', 'with --require-attestation: also trust the PEM certificates in FILE (repeatable)').argParser(collect))
    .option('--yes', 'never ask: fail with what is missing instead')
    .option('--json', 'print one JSON object')
    .action(async (flags: WithCardFlags<CaSignFlags> & { yes?: boolean }) => {
      const { runCaSign, defaultCaEnvironment } = await import('./commands/ca.js');
      setExit(await runCaSign({ ...flags, ...cardSelection(flags) }, output, defaultCaEnvironment(flags.yes)));
    });

  addInventoryOption(ca.command('revoke'))
    .description('revoke certificates (by serial or key id) or a key, and rebuild DIR/revoked.krl atomically')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--serial <n>', 'a serial, or a range N-M')
    .option('--key-id <id>', 'every certificate with this key id')
    .option('--public-key <file>', 'this key (a .pub or -cert.pub file): every certificate of it, and the key itself')
    .option('--json', 'print one JSON object')
    .action(async (flags: CaRevokeFlags) => {
      const { runCaRevoke } = await import('./commands/ca-revoke.js');
      setExit(await runCaRevoke(flags, output));
    });

  ca.command('check-revoked')
    .description('tell whether keys or certificates are revoked, like `ssh-keygen -Q -f KRL FILE…` (exit 1 if any is)')
    .argument('<file...>', 'public key or certificate files')
    .option('--dir <dir>', 'the CA directory (its revoked.krl)')
    .option('--krl <file>', 'or any KRL file')
    .option('--json', 'print one JSON object')
    .action(async (files: string[], flags: CaCheckRevokedFlags) => {
      const { runCaCheckRevoked } = await import('./commands/ca-revoke.js');
      setExit(await runCaCheckRevoked(files, flags, output));
    });
}
