/** The sshd_config snippet for servers that trust the CA, rendered from templates/sshd-ca/. */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';

/** Where the CA files go on servers unless `ca init --server-dir` says otherwise. */
export const DEFAULT_SERVER_DIR = '/etc/ssh/piv-enroll-ca';

export interface SshdSnippetValues {
  caFingerprint: string;
  caKeyType: string;
  caSignatureAlgorithm: string;
  /** Directory on the servers that holds ca.pub and revoked.krl. */
  serverDir: string;
  /** AuthorizedPrincipalsFile pattern (e.g. /etc/ssh/auth_principals/%u); none when undefined. */
  principalsFile?: string;
}

// The templates sit at the package root; this file is three levels down in both src/ and dist/.
const TEMPLATES = new URL('../../../templates/sshd-ca/', import.meta.url);

/** Replaces every {{NAME}}; a placeholder without a value is a bug in the template, not something to ship. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    return value;
  });
}

export async function renderSshdSnippet(values: SshdSnippetValues): Promise<string> {
  const placeholders = {
    CA_FINGERPRINT: values.caFingerprint,
    CA_KEY_TYPE: values.caKeyType,
    CA_SIGNATURE_ALGORITHM: values.caSignatureAlgorithm,
    CA_PUBLIC_KEY_PATH: posix.join(values.serverDir, 'ca.pub'),
    KRL_PATH: posix.join(values.serverDir, 'revoked.krl'),
    PRINCIPALS_FILE: values.principalsFile ?? '',
  };
  const parts = [renderTemplate(await readFile(new URL('sshd_config.template', TEMPLATES), 'utf8'), placeholders)];
  if (values.principalsFile !== undefined) parts.push(renderTemplate(await readFile(new URL('authorized-principals.template', TEMPLATES), 'utf8'), placeholders));
  return parts.join('');
}
