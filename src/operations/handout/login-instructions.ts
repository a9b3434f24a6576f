/**
 * What the handout tells a person about logging in with their card: Linux, macOS, Windows OpenSSH, PuTTY-CAC and a
 * blocked PIN. Text only, as sections of paragraphs and commands, so the PDF renderer lays it out and tests read it.
 *
 * Sources for the facts below:
 * - Module paths: Debian/Ubuntu's opensc-pkcs11 and ykcs11 packages (`dpkg -L`, seen on Debian 12), Fedora's opensc
 *   package (/usr/lib64/pkcs11/), OpenSC's macOS installer (/Library/OpenSC/lib), Homebrew's yubico-piv-tool
 *   (/usr/local/lib on Intel, /opt/homebrew/lib on Apple silicon), OpenSC's Windows MSI (templates/windows-guide.md).
 * - PuTTY-CAC: its CAPI path signed RSA with SHA-1 (NoMoreFood/putty-cac issue #30, 2018: "cert_capi.c is still
 *   using SHA1 which newer OpenSSH servers will not accept", while the same YubiKey worked through opensc-pkcs11.dll);
 *   SHA-2 came with PR #56 (2020), and since then a CAPI provider or vendor minidriver that signs SHA-512 wrongly
 *   still gives "Server refused public-key signature despite accepting key!" (issue #77, 2021; sshd logs
 *   `key_verify: invalid argument`). OpenSSH 8.8 and later refuse ssh-rsa (SHA-1) signatures by default
 *   (shared/reference/ssh.md §1). PKCS#11 mode uses the same module this project checked the card's signatures with.
 * - Ed25519 keys through PKCS#11 need an OpenSSH 10.1 client (ssh.md §2).
 * - Three wrong PINs block a YubiKey's PIV PIN (the factory retry count); the PUK unblocks it.
 */

export interface InstructionBlock {
  kind: 'text' | 'command';
  text: string;
}

export interface InstructionSection {
  title: string;
  blocks: InstructionBlock[];
}

export interface InstructionContext {
  /** The SSH algorithm family of the key (RSA2048, ECCP256, ED25519, …). */
  algorithm: string;
  /** Where the key was deployed ([user@]host[:port]); the first one is the example. */
  hosts?: string[];
  /** The SSH certificate's file name, to keep beside the other SSH files. */
  caCertificate?: string;
  /** How to reach the helpdesk (free text). */
  helpdesk?: string;
}

export const MODULE_PATHS = {
  debian: '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
  debianArm: '/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so',
  fedora: '/usr/lib64/pkcs11/opensc-pkcs11.so',
  ykcs11Debian: '/usr/lib/x86_64-linux-gnu/libykcs11.so',
  macOpenSc: '/Library/OpenSC/lib/opensc-pkcs11.so',
  macYkcs11Intel: '/usr/local/lib/libykcs11.dylib',
  macYkcs11Arm: '/opt/homebrew/lib/libykcs11.dylib',
  windowsOpenSc: 'C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
} as const;

const text = (t: string): InstructionBlock => ({ kind: 'text', text: t });
const command = (t: string): InstructionBlock => ({ kind: 'command', text: t });

/** user@host of the first deployed host (a port becomes -p / Port), else a placeholder. */
function exampleHost(hosts: string[] | undefined): { target: string; host: string; user?: string; port?: string } {
  const first = hosts?.[0];
  const match = first === undefined ? null : /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(first);
  if (!match) return { target: 'you@server.example.com', host: 'server.example.com', user: 'you' };
  const host = match[2]!.replace(/^\[|\]$/g, '');
  return { target: match[1] ? `${match[1]}@${host}` : host, host, user: match[1], port: match[3] };
}

/** A POSIX shell command from its words; past one printed line, continued with backslashes (still pasteable). */
function shellCommand(words: string[]): string {
  const lines: string[] = [];
  for (const word of words) {
    const last = lines.length - 1;
    if (last >= 0 && `${lines[last]} ${word}`.length <= COMMAND_LINE_WIDTH - 2) lines[last] = `${lines[last]} ${word}`;
    else lines.push(last < 0 ? word : `    ${word}`);
  }
  return lines.join(' \\\n');
}

/** Characters of Courier that fit the handout's command boxes in one line. */
const COMMAND_LINE_WIDTH = 96;

function configBlock(host: ReturnType<typeof exampleHost>, provider: string, certificate: string | undefined): string {
  return [
    `Host ${host.host}`,
    ...(host.user ? [`    User ${host.user}`] : []),
    ...(host.port ? [`    Port ${host.port}`] : []),
    `    PKCS11Provider ${provider}`,
    ...(certificate ? [`    CertificateFile ${certificate}`] : []),
  ].join('\n');
}

export function loginInstructions(context: InstructionContext): InstructionSection[] {
  const host = exampleHost(context.hosts);
  const port = host.port ? ` -p ${host.port}` : '';
  const certificate = context.caCertificate ? `~/.ssh/${context.caCertificate}` : undefined;
  const sshWords = (module: string): string[] => [`ssh -I ${module}`, ...(certificate ? [`-o CertificateFile=${certificate}`] : []), ...(host.port ? [`-p ${host.port}`] : []), host.target];
  const ed25519 = context.algorithm.toUpperCase() === 'ED25519';
  const sections: InstructionSection[] = [
    {
      title: 'Before you start',
      blocks: [
        text(
          'Insert the card. Your private key never leaves it: ssh asks the card to sign through a PKCS#11 module, and the card asks for your PIN. ' +
            (context.hosts && context.hosts.length > 0 ? `Your key is already on: ${context.hosts.join(', ')}.` : 'Ask your administrator which servers accept your key.') +
            (certificate ? ` Keep your SSH certificate as ${certificate}.` : ''),
        ),
        ...(ed25519 ? [text('Your key is Ed25519: through a card this needs an OpenSSH 10.1 client or newer.')] : []),
      ],
    },
    {
      title: 'Linux',
      blocks: [
        text(`Install OpenSC (Debian/Ubuntu: apt install opensc-pkcs11; Fedora: dnf install opensc), then log in with:`),
        command(shellCommand(sshWords(MODULE_PATHS.debian))),
        text(
          `Module path: Debian/Ubuntu ${MODULE_PATHS.debian} (ARM: ${MODULE_PATHS.debianArm}); Fedora/RHEL ${MODULE_PATHS.fedora}. ` +
            `Yubico's ykcs11 works too (${MODULE_PATHS.ykcs11Debian}). To skip -I, add to ~/.ssh/config:`,
        ),
        command(configBlock(host, MODULE_PATHS.debian, certificate)),
      ],
    },
    {
      title: 'macOS',
      blocks: [
        text(`Install OpenSC (the installer from OpenSC's releases) and use ${MODULE_PATHS.macOpenSc}, or Yubico's ykcs11 (brew install yubico-piv-tool): ${MODULE_PATHS.macYkcs11Intel} (Intel), ${MODULE_PATHS.macYkcs11Arm} (Apple silicon).`),
        command(shellCommand(sshWords(MODULE_PATHS.macOpenSc))),
        text('or in ~/.ssh/config:'),
        command(configBlock(host, MODULE_PATHS.macOpenSc, certificate)),
      ],
    },
    {
      title: 'Windows: OpenSSH (ssh.exe)',
      blocks: [
        text('Install OpenSC for Windows (MSI), then in PowerShell or cmd:'),
        command(`ssh -I "${MODULE_PATHS.windowsOpenSc}"${port} ${host.target}`),
        text('or in %USERPROFILE%\\.ssh\\config:'),
        command(configBlock(host, `"${MODULE_PATHS.windowsOpenSc}"`, certificate)),
      ],
    },
    {
      title: 'Windows: PuTTY-CAC in PKCS#11 mode (not CAPI)',
      blocks: [
        text(
          `Use PuTTY-CAC 0.75 or later. Connection > SSH > Certificate > Set PKCS Cert..., choose ${MODULE_PATHS.windowsOpenSc}, then pick the certificate with your name.`,
        ),
        text(
          'Do not use CAPI mode: it signs through Windows and the card vendor\'s minidriver. Older releases signed RSA with SHA-1, which OpenSSH 8.8 and later refuse, ' +
            'and a minidriver that signs SHA-2 wrongly gives the same result: "Server refused public-key signature despite accepting key!". ' +
            'PKCS#11 mode uses the OpenSC module your card was checked with.',
        ),
      ],
    },
    {
      title: 'PIN blocked?',
      blocks: [
        text(
          'After 3 wrong PINs in a row the card locks its PIN. Do not reset the card or try tools that offer to: that erases your key. ' +
            'Bring the card to the helpdesk, which unblocks it with the PUK (piv-enroll pin unblock) and sets a new PIN.' +
            (context.helpdesk ? ` Helpdesk: ${context.helpdesk}` : ''),
        ),
      ],
    },
  ];
  return sections;
}
