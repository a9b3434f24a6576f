/**
 * Argument parsing only: argv → typed options → a command module, loaded lazily. One handler turns
 * errors into messages and exit codes: 0 ok, 1 the operation failed, 2 bad usage, 70 internal error, 130 cancelled
 * (Ctrl-C: see cancellation.ts; a CancelledError is a PivEnrollError, so it is shown without a stack).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { PivEnrollError } from '../errors.js';
import { handleInterrupts } from './cancellation.js';
import { addHandoutOptions } from './handout-options.js';
import { addCardOptions, addHostAccessOptions, addInventoryOption, addPolicyOption, type CardFlags, type WithCardFlags, cardSelection, collect, parseFormFactorOption, parseSerial } from './card-options.js';
import { processOutput, type Output } from './output.js';
import { SIGN_EVERY_ALGORITHM_HELP } from './pkcs11-checks.js';
import { registerCaCommands } from './register-ca.js';
import { registerCardLifeCommands } from './register-card-life.js';
import { registerDeployCommand } from './register-deploy.js';
import { registerX509Commands } from './register-x509.js';
import { registerEscrowCommands } from './register-escrow.js';
import type { AttestFlags } from './commands/attest.js';
import { addAttestationOptions } from './attestation-options.js';
import type { BatchFlags } from './commands/batch.js';
import type { EnrollFlags } from './commands/enroll.js';
import type { OffboardFlags } from './commands/offboard.js';
import type { RekeyFlags } from './commands/rekey.js';

const EXIT_INTERNAL = 70;


function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(output: Output, setExit: (code: number) => void): Command {
  const program = new Command('piv-enroll')
    .description('Takes a PIV smart card (YubiKey) to a verified SSH key.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.result(s.trimEnd()), writeErr: (s) => output.error(s.replace(/^error: /, '').trimEnd()) });

  addPolicyOption(addCardOptions(program.command('status').description('show what the card holds: firmware, serial, PIN/PUK tries, management key, slots and certificates')))
    .option('--json', 'print JSON instead of text')
    .addOption(new Option('--attestation-roots <file>', 'also trust the PEM certificates in FILE for the slots\' attestation verdicts (repeatable)').argParser(collect))
    .action(async (flags: CardFlags & { json?: boolean; attestationRoots?: string[]; policy?: string }) => {
      const { runStatus } = await import('./commands/status.js');
      setExit(await runStatus({ ...cardSelection(flags), json: flags.json, attestationRoots: flags.attestationRoots, policy: flags.policy }, output));
    });

  addHandoutOptions(addAttestationOptions(addPolicyOption(addInventoryOption(addCardOptions(program.command('enroll').description('take a card to a verified SSH key: harden, key, certificate, export, verify (a wizard on a terminal)'))))), 'for the person')
    .option('--slot <slot>', 'PIV slot: 9a, 9c, 9d, 9e or 82–95', '9c')
    .option('--algorithm <name>', 'RSA2048 (default), RSA3072, RSA4096, ECCP256, ECCP384, ED25519 (what the firmware has); with --import, the key\'s own')
    .option('--pin-policy <policy>', 'default (9c: always), never, once, always')
    .option('--touch-policy <policy>', 'default (never), never, always, cached')
    .option('--key-source <where>', 'host: made here with OpenSSL and imported; card: generated on the card (attested)')
    .option('--import <file>', 'import this private key (OpenSSH, PKCS#1, SEC1, PKCS#8; encrypted too)')
    .option('--backup-key <file>', 'with --key-source host: also write the key to FILE, encrypted (mode 0600)')
    .option('--subject <dn>', 'certificate subject, RFC 4514 (e.g. "CN=gofish543,O=Example")')
    .option('--user <name>', 'the person the card is for: subject CN=NAME')
    .option('--valid-days <n>', 'certificate validity in days (default: the policy\'s, else 365)')
    .option('--hash <name>', 'certificate hash: SHA256, SHA384, SHA512', 'SHA256')
    .option('--comment <text>', 'comment of the authorized_keys line (default: user and card serial)')
    .option('--out <dir>', 'write the public key, authorized_keys line and certificate into DIR')
    .option('--csr <dir>', 'stop after a certificate request for an X.509 CA, DIR/piv-SLOT.csr (no self-signed certificate); then piv-enroll certificate import')
    .option('--force', 'replace a key already in the slot (the last PIN try still needs --allow-last-pin-try)')
    .option('--keep-default-credentials', 'do not replace a factory-default PIN, PUK or management key (not recommended)')
    .option('--yes', 'never ask: fail with the list of everything missing instead')
    .option('--json', 'print one JSON object (and no progress)')
    .option('--verbose', 'print where the time went on stderr: each step\'s milliseconds and APDUs (as --json\'s timings)')
    .option('--pin-file <file>', 'read the PIN from FILE (or set PIV_PIN)')
    .option('--new-pin-file <file>', 'the new PIN for a factory-fresh card (or PIV_NEW_PIN)')
    .option('--puk-file <file>', 'the PUK (or PIV_PUK)')
    .option('--new-puk-file <file>', 'the new PUK for a factory-fresh card (or PIV_NEW_PUK)')
    .option('--management-key-file <file>', 'the management key in hex, when the card does not keep it PIN-protected (or PIV_MANAGEMENT_KEY)')
    .option('--passphrase-file <file>', 'passphrase of --import or --backup-key (or PIV_KEY_PASSPHRASE)')
    .option('--random-pin', 'a factory-fresh card gets a random 6-digit PIN, shown once on the terminal or written to --pin-out')
    .option('--random-puk', 'a factory-fresh card gets a random 8-digit PUK (kept by --escrow-recipient, else shown or written like the PIN)')
    .option('--escrow-recipient <age1…|file>', 'encrypt the new PUK and management key to this age recipient (or the recipients in FILE) and keep them in the inventory')
    .option('--pin-out <file>', 'write the generated PIN (and PUK) to FILE, a new file of mode 0600, instead of the terminal')
    .option('--pkcs11 <modules>', 'check signatures through these PKCS#11 modules too: auto (every one installed), none, or opensc,ykcs11,PATH', 'auto')
    .option('--sign-every-algorithm', SIGN_EVERY_ALGORITHM_HELP)
    .option('--ca <dir>', 'after enrolling, have the SSH CA in DIR (piv-enroll ca init) certify the key: writes piv-9c-cert.pub beside the public key (default: the policy\'s CA; none: no CA)')
    .option('--principals <list>', 'with --ca: the names the certificate lets the key log in as (default: the --user name)')
    .option('--ca-validity <duration>', 'with --ca: how long the certificate is valid (e.g. 30d, 12h, 52w)', undefined)
    .option('--key-id <id>', 'with --ca: the certificate key id (default: the authorized_keys comment)')
    .option('--ca-passphrase-file <file>', 'with --ca: the CA passphrase (or PIV_CA_PASSPHRASE)')
    .option('--ca-reader <text>', 'with --ca and a CA key on a card: the reader holding the CA card')
    .option('--ca-pin-file <file>', 'with --ca-reader: the PIN of the CA card (or PIV_CA_PIN)')
    .addOption(new Option('--deploy-to <[user@]host[:port]>', 'after enrolling, put the key into authorized_keys on this host, or @GROUP: the policy\'s host group (repeatable; as piv-enroll deploy)').argParser(collect))
    .option('--deploy-hosts-file <file>', 'after enrolling, deploy to the hosts in FILE (one [user@]host[:port] a line)')
    .option('--identity <file>', 'with --deploy-to: log in to the hosts with this private key (ssh -i)')
    .option('--known-hosts <file>', 'with --deploy-to: known_hosts file to check host keys against')
    .option('--accept-new-host-keys', 'with --deploy-to: accept hosts not yet known (a changed host key is still refused)')
    .addOption(new Option('--ssh-option <key=value>', 'with --deploy-to: extra ssh -o option (repeatable)').argParser(collect))
    .option('--backend <backend>', 'apdu: piv-enroll talks to the card (default); pkcs11: only through a vendor module (--module)')
    .option('--module <module>', 'with --backend pkcs11: ykcs11 (default) or the PATH of a module')
    .action(async (flags: WithCardFlags<EnrollFlags>) => {
      // The host key first: it is made on another thread while node loads the enrollment (early-host-key.ts).
      (await import('../operations/enroll/early-host-key.js')).startHostKeyEarly(flags);
      const { runEnroll, defaultEnrollEnvironment } = await import('./commands/enroll.js');
      setExit(await runEnroll({ ...flags, ...cardSelection(flags) }, output, defaultEnrollEnvironment(flags.yes)));
    });

  addCardOptions(program.command('export').description('print the public key of a slot (like `ssh-keygen -D … -e`), as ssh, pem or its certificate'))
    .option('--slot <slot>', 'PIV slot', '9c')
    .option('--format <format>', 'ssh (an authorized_keys line), pem (the public key), certificate', 'ssh')
    .option('--comment <text>', 'comment of the ssh line')
    .option('--via <path>', 'apdu (piv-enroll talks to the card) or pkcs11 (through a PKCS#11 module, exactly as ssh -I sees the key)', 'apdu')
    .option('--module <module>', 'with --via pkcs11: opensc (default), ykcs11 or a PATH')
    .action(async (flags: CardFlags & { slot: string; format: string; comment?: string; via?: string; module?: string }) => {
      const { runExport } = await import('./commands/export.js');
      setExit(await runExport({ ...flags, ...cardSelection(flags) }, output));
    });

  addCardOptions(program.command('attest').description('prove a slot\'s key was generated on the card: its attestation, through the card\'s f9 certificate, to Yubico\'s roots'))
    .option('--slot <slot>', 'PIV slot', '9c')
    .addOption(new Option('--attestation-roots <file>', 'also trust the PEM certificates in FILE, besides Yubico\'s roots (repeatable; self-signed ones are roots, the others intermediates)').argParser(collect))
    .option('--json', 'print the verdict and the attested facts as JSON')
    .action(async (flags: WithCardFlags<AttestFlags>) => {
      const { runAttest } = await import('./commands/attest.js');
      setExit(await runAttest({ ...flags, ...cardSelection(flags) }, output));
    });

  addPolicyOption(addHostAccessOptions(addCardOptions(program.command('doctor').description('find which link between card, driver, client and server breaks SSH logins')), 'the --host'))
    .option('--slot <slot>', 'PIV slot', '9c')
    .addOption(new Option('--module <module>', 'PKCS#11 module to check (repeatable): opensc, ykcs11, PATH (default: every one installed)').argParser(collect))
    .option('--host <[user@]host[:port]>', 'also log in to this host through the first module, once per signature algorithm')
    .option('--certificate <file>', 'an OpenSSH certificate of the card key: check its CA signature, and try it with --host')
    .option('--pin-file <file>', 'read the PIN from FILE (or set PIV_PIN; a factory-default PIN is used by itself)')
    .option('--json', 'print one JSON object')
    .addOption(new Option('--attestation-roots <file>', 'also trust the PEM certificates in FILE for the slot key\'s attestation (repeatable)').argParser(collect))
    .action(async (flags: CardFlags & { slot: string; module?: string[]; host?: string; certificate?: string; identity?: string; knownHosts?: string; acceptNewHostKeys?: boolean; sshOption?: string[]; json?: boolean; pinFile?: string; attestationRoots?: string[]; policy?: string }) => {
      const { runDoctor } = await import('./commands/doctor.js');
      setExit(await runDoctor({ ...flags, ...cardSelection(flags) }, output));
    });

  const inventory = program.command('inventory').description('who has which card and key, where the key went, which certificates it has');
  const inventoryOptions = (command: Command): Command =>
    addInventoryOption(command).option('--json', 'print JSON').option('--csv', 'print CSV (one row per enrollment)');
  inventoryOptions(inventory.command('list').description('enrollments (active by default), with when their certificates end and how many hosts have the key'))
    .option('--status <status>', 'active, replaced, revoked or all', 'active')
    .option('--person <name>', 'only this person')
    .option('--expiring-within <duration>', 'only enrollments whose certificate ends within DURATION (e.g. 30d)')
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const { runInventoryList } = await import('./commands/inventory.js');
      setExit(await runInventoryList(flags, output));
    });
  inventoryOptions(inventory.command('show').argument('<what>', 'a person, a card serial, or a SHA256:… fingerprint').description('every enrollment of a person, card or key, with its history'))
    .action(async (what: string, flags: Record<string, string | boolean | undefined>) => {
      const { runInventoryShow } = await import('./commands/inventory.js');
      setExit(await runInventoryShow(what, flags, output));
    });
  inventoryOptions(inventory.command('export').description('the whole inventory, every status, as --json or --csv'))
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const { runInventoryExport } = await import('./commands/inventory.js');
      setExit(await runInventoryExport(flags, output));
    });

  addHandoutOptions(addAttestationOptions(addPolicyOption(addHostAccessOptions(addInventoryOption(program.command('batch').description('enroll a whole intake from a manifest (YAML or CSV): cards matched by serial, several readers at once, resumable')), 'the manifest\'s hosts'))), 'per person')
    .requiredOption('--manifest <file>', 'people to enroll: user, subject, principals, hosts, ca, slot, algorithm, pin-policy, touch-policy, key-source, valid-days, card-serial')
    .addOption(new Option('--reader <text>', 'use only readers whose name contains TEXT (repeatable; default: every reader)').argParser(collect))
    .option('--wait <duration>', 'without a terminal: how long to wait for cards not inserted yet', '10m')
    .option('--out <dir>', 'write each person\'s public key, certificate and SSH certificate into DIR/USER')
    .option('--force', 'enroll people the inventory shows as enrolled again, and replace keys already on their cards')
    .option('--allow-last-pin-try', 'try a card\'s PIN even when only one try is left (a wrong PIN then blocks that card)')
    .option('--keep-default-credentials', 'do not harden factory-fresh cards (not recommended)')
    .option('--pkcs11 <modules>', 'check signatures through these PKCS#11 modules too (as enroll)', 'auto')
    .option('--sign-every-algorithm', SIGN_EVERY_ALGORITHM_HELP)
    .option('--pin-file <file>', 'the PIN of cards already hardened (or PIV_PIN)')
    .option('--new-pin-file <file>', 'the PIN factory-fresh cards get (or PIV_NEW_PIN)')
    .option('--new-puk-file <file>', 'the PUK factory-fresh cards get (or PIV_NEW_PUK)')
    .option('--pin-out <dir>', 'each factory-fresh card gets a random PIN and PUK (unless given above): write each person\'s to DIR/USER.txt (mode 0600)')
    .option('--escrow-recipient <age1…|file>', 'encrypt each card\'s new PUK and management key to this age recipient (or the recipients in FILE), kept in the inventory')
    .option('--management-key-file <file>', 'the management key of cards that do not keep it PIN-protected (or PIV_MANAGEMENT_KEY)')
    .option('--ca-passphrase-file <file>', 'the passphrase of the manifest\'s CA (or PIV_CA_PASSPHRASE)')
    .option('--yes', 'never ask: match cards by the card-serial column')
    .option('--json', 'print the report as JSON')
    .option('--csv', 'print the report as CSV')
    .action(async (flags: BatchFlags) => {
      const { runBatchCommand, defaultBatchEnvironment } = await import('./commands/batch.js');
      setExit(await runBatchCommand(flags, output, defaultBatchEnvironment(flags.yes)));
    });

  addAttestationOptions(addPolicyOption(addHostAccessOptions(addInventoryOption(addCardOptions(program.command('rekey').description('give the inserted card a new key and certificates, deployed before the old key is retired: no moment without a working login'))), 'the hosts')))
    .option('--slot <slot>', 'PIV slot', '9c')
    .option('--expiring-within <duration>', 'only if a certificate of the card ends within DURATION', '30d')
    .option('--force', 're-key now, whatever the expiry')
    .option('--out <dir>', 'where the new public key, certificate and SSH certificates go (needed when the key has SSH certificates)')
    .option('--pkcs11 <modules>', 'check the new key\'s signatures through these PKCS#11 modules too (as enroll)', 'auto')
    .option('--sign-every-algorithm', SIGN_EVERY_ALGORITHM_HELP)
    .option('--pin-file <file>', 'the card PIN (or PIV_PIN)')
    .option('--management-key-file <file>', 'the management key, when the card does not keep it PIN-protected (or PIV_MANAGEMENT_KEY)')
    .option('--ca-passphrase-file <file>', 'the passphrase of the CA that re-issues the SSH certificates (or PIV_CA_PASSPHRASE)')
    .option('--ca-reader <text>', 'a CA whose key is on a card: the reader holding that card')
    .option('--ca-pin-file <file>', 'with --ca-reader: the PIN of the CA card (or PIV_CA_PIN)')
    .option('--key-source <where>', 'host or card: where the new key is made (default: where the old one was; a card key on firmware before 5.7 needs this choice)')
    .option('--dry-run', 'show the plan, change nothing')
    .option('--yes', 'do not ask before re-keying')
    .option('--json', 'print JSON')
    .action(async (flags: WithCardFlags<RekeyFlags>) => {
      const { runRekey, defaultRekeyEnvironment } = await import('./commands/rekey.js');
      const given = program.commands.find((c) => c.name() === 'rekey')!.getOptionValueSource('expiringWithin') === 'cli';
      setExit(await runRekey({ ...flags, ...cardSelection(flags), expiringWithin: given || !flags.force ? flags.expiringWithin : undefined }, output, defaultRekeyEnvironment()));
    });

  addHostAccessOptions(addInventoryOption(program.command('offboard').description('take a person\'s keys off every host the inventory recorded, revoke their certificates, mark them revoked')), 'the hosts')
    .requiredOption('--user <name>', 'the person, as the inventory names them')
    .option('--dry-run', 'show what would be done, change nothing')
    .option('--json', 'print JSON')
    .action(async (flags: OffboardFlags) => {
      const { runOffboard } = await import('./commands/offboard.js');
      setExit(await runOffboard(flags, output));
    });

  registerDeployCommand(program, output, setExit);
  registerCaCommands(program, output, setExit);
  registerX509Commands(program, output, setExit);
  registerCardLifeCommands(program, output, setExit);
  registerEscrowCommands(program, output, setExit);

  const virtualCard = program.command('virtual-card').description('the embedded virtual YubiKey (test-only)');
  virtualCard
    .command('serve')
    .description('play the virtual card to vsmartcard vpcd, so pcscd and every PC/SC tool see it in a reader')
    .option('--vpcd <host:port>', 'where vpcd listens (the YubiKey-named reader of scripts/testbench.sh is on 35965)', '127.0.0.1:35965')
    .requiredOption('--state <file>', 'card state file (created factory-fresh if missing; mode 0600)')
    .option('--firmware <version>', 'firmware of a card being created (e.g. 4.3.7, 5.4.3, 5.7.2)')
    .addOption(new Option('--serial <n>', 'serial of a card being created').argParser(parseSerial))
    .addOption(new Option('--form-factor <name>', 'form factor of a card being created: usb-a-keychain (default), usb-a-nano, usb-c-keychain, usb-c-nano, usb-c-lightning, usb-a-bio, usb-c-bio').argParser(parseFormFactorOption))
    .addOption(new Option('--fault <name>', 'make the card misbehave (repeatable): corrupt-signature, wrong-certificate, drop-mid-command, no-space').argParser(collect))
    .option('--verbose', 'trace APDUs (PIN, PUK, management key and private keys redacted)')
    .addOption(new Option('--timing <model>', 'answer as fast as possible (none) or as slowly as a USB YubiKey 5 (yubikey5)').choices(['none', 'yubikey5']).default('none'))
    .action(async (flags: { vpcd: string; state: string; firmware?: string; serial?: number; formFactor?: number; fault?: string[]; verbose?: boolean; timing: 'none' | 'yubikey5' }) => {
      const { runServe } = await import('./commands/virtual-card-serve.js');
      setExit(await runServe({ ...flags, faults: flags.fault }, output));
    });

  return program;
}

export async function run(argv: string[], output: Output = processOutput): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(output, (code) => (exitCode = code));
  const stopHandlingInterrupts = handleInterrupts((text) => output.error(text));
  try {
    if (argv.length === 0) {
      // On a terminal a bare `piv-enroll` is the enrollment wizard; elsewhere it explains itself.
      if (!(process.stdin.isTTY && process.stdout.isTTY)) {
        program.outputHelp();
        return 0;
      }
      argv = ['enroll'];
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? 0 : 2;
    }
    if (error instanceof PivEnrollError) {
      output.error(error.message);
      return error.exitCode;
    }
    output.error(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT_INTERNAL;
  } finally {
    stopHandlingInterrupts();
  }
}
