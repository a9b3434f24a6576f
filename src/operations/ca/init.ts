/**
 * `ca init`: a new CA in a directory (layout in ca-store.ts). The key is made here and stored encrypted, or it is
 * already on a PIV card and only its public half is recorded. An existing CA is never replaced.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { generateKeyPairForAsync } from '../../crypto/keys.js';
import type { PivSession } from '../../piv/session.js';
import { keyAlgorithmByName } from '../../standards/algorithms.js';
import { slotHex } from '../../standards/references.js';
import { caSignatureScheme } from './ca-signature.js';
import { CA_FILES, type CaAlgorithm, type CaConfig, type CaKeyLocation, caPath, pathExists, writeFileAtomic } from './ca-store.js';
import { readCardSerial, readSlotKey } from './card-ca.js';
import { CaError, CaExistsError } from './errors.js';
import { encodeKrl } from './krl.js';
import { blobFingerprint, blobKeyType, formatOpenSshLine, publicKeyBlob } from './key-blob.js';
import { encryptedOpenSshPrivateKey } from './openssh-private-key.js';
import { emptyRevocations } from './revocations.js';
import { DEFAULT_SERVER_DIR, renderSshdSnippet } from './sshd-config.js';

/** The PIV algorithm that holds each CA algorithm on a card (for the `enroll` command suggested when a slot is empty). */
export const CARD_ALGORITHM: Record<CaAlgorithm, string> = { ed25519: 'ED25519', rsa4096: 'RSA4096', 'ecdsa-p256': 'ECCP256' };

export interface CaInitRequest {
  dir: string;
  /** Where ca.pub and revoked.krl go on servers, for the sshd_config snippet. */
  serverDir?: string;
  /** AuthorizedPrincipalsFile pattern for the snippet, e.g. /etc/ssh/auth_principals/%u. */
  principalsFile?: string;
  /** Comment of ca.pub (default: piv-enroll-ca). */
  comment?: string;
}

export type CaKeySource =
  | { kind: 'software'; algorithm: CaAlgorithm; passphrase: string }
  /** `algorithm`: what the admin asked for; when given, the slot must hold that kind of key. */
  | { kind: 'card'; session: PivSession; slot: number; algorithm?: CaAlgorithm; cardFlags?: string };

export interface CaInitDeps {
  now?: () => Date;
  /** Makes the software CA key (tests inject a fixed one). */
  generateKey?: (algorithm: CaAlgorithm) => Promise<KeyObject>;
}

export interface CaInitResult {
  config: CaConfig;
  files: string[];
}


async function defaultGenerateKey(algorithm: CaAlgorithm): Promise<KeyObject> {
  return (await generateKeyPairForAsync(keyAlgorithmByName(CARD_ALGORITHM[algorithm])!)).privateKey;
}

/** The public key of the card slot, or a clear message naming the `enroll` command that puts one there. */
async function cardPublicKey(source: Extract<CaKeySource, { kind: 'card' }>): Promise<{ publicKey: KeyObject; location: CaKeyLocation }> {
  const key = await readSlotKey(source.session, source.slot);
  const slot = slotHex(source.slot).toLowerCase();
  const enroll = `piv-enroll enroll${source.cardFlags ? ` ${source.cardFlags}` : ''} --slot ${slot} --algorithm ${CARD_ALGORITHM[source.algorithm ?? 'ecdsa-p256']} --user ssh-ca`;
  if (!key) throw new CaError(`slot ${slot} holds no key: put the CA key there first with\n  ${enroll}\nthen run ca init --on-card again`);
  if (key.algorithm.kind === 'x25519') throw new CaError(`slot ${slot} holds an X25519 key, which cannot sign: enroll a signing key with\n  ${enroll}`);
  if (source.algorithm !== undefined && key.algorithm.name !== CARD_ALGORITHM[source.algorithm]) {
    throw new CaError(`slot ${slot} holds a ${key.algorithm.name} key, not ${CARD_ALGORITHM[source.algorithm]} as --algorithm ${source.algorithm} asks (leave out --algorithm to use it)`);
  }
  const cardSerial = await readCardSerial(source.session);
  return { publicKey: key.publicKey, location: { kind: 'card', slot: slotHex(source.slot), ...(cardSerial === undefined ? {} : { cardSerial }) } };
}

export async function initCa(request: CaInitRequest, source: CaKeySource, deps: CaInitDeps = {}): Promise<CaInitResult> {
  const { dir } = request;
  const now = (deps.now ?? (() => new Date()))();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of ['config', 'privateKey', 'publicKey'] as const) {
    if (await pathExists(caPath(dir, name))) throw new CaExistsError(`${dir} already holds a CA (${CA_FILES[name]} exists): piv-enroll never replaces a CA key`);
  }
  const comment = request.comment ?? 'piv-enroll-ca';
  let publicKey: KeyObject;
  let location: CaKeyLocation;
  const written: string[] = [];
  if (source.kind === 'software') {
    const privateKey = await (deps.generateKey ?? defaultGenerateKey)(source.algorithm);
    const text = encryptedOpenSshPrivateKey(privateKey, source.passphrase, comment);
    const handle = await open(caPath(dir, 'privateKey'), 'wx', 0o600);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    written.push(caPath(dir, 'privateKey'));
    publicKey = privateKey;
    location = { kind: 'file', file: CA_FILES.privateKey };
  } else {
    ({ publicKey, location } = await cardPublicKey(source));
  }

  const blob = publicKeyBlob(publicKey);
  const config: CaConfig = {
    formatVersion: 1,
    keyType: blobKeyType(blob),
    signatureAlgorithm: caSignatureScheme(publicKey).algorithm,
    publicKey: formatOpenSshLine(blob, comment),
    fingerprint: blobFingerprint(blob),
    key: location,
    created: now.toISOString(),
  };
  const revocations = emptyRevocations();
  const files: Array<[keyof typeof CA_FILES, string | Uint8Array]> = [
    ['publicKey', `${config.publicKey}\n`],
    ['serial', '1\n'],
    ['revocations', `${JSON.stringify(revocations, null, 2)}\n`],
    // An empty KRL from the start: RevokedKeys naming a missing file would lock every key out.
    ['krl', encodeKrl({ version: BigInt(revocations.krlVersion), generatedDate: BigInt(Math.floor(now.getTime() / 1000)), comment: `piv-enroll CA ${config.fingerprint}`, certificates: [], explicitKeys: [], sha1Fingerprints: [], sha256Fingerprints: [] })],
    ['sshdConfig', await renderSshdSnippet({
      caFingerprint: config.fingerprint,
      caKeyType: config.keyType,
      caSignatureAlgorithm: config.signatureAlgorithm,
      serverDir: request.serverDir ?? DEFAULT_SERVER_DIR,
      ...(request.principalsFile === undefined ? {} : { principalsFile: request.principalsFile }),
    })],
  ];
  for (const [name, data] of files) {
    await writeFileAtomic(caPath(dir, name), data);
    written.push(caPath(dir, name));
  }
  // ca.json last, exclusively: it marks a complete CA, and two concurrent inits cannot both succeed.
  const handle = await open(caPath(dir, 'config'), 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(config, null, 2)}\n`);
  } finally {
    await handle.close();
  }
  written.push(caPath(dir, 'config'));
  return { config, files: written };
}
