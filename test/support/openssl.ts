/** OpenSSL as a CA operator runs it, for the X.509 CA path's tests. */
import { spawnSync } from 'node:child_process';

/**
 * `openssl req -verify`. OpenSSL 3.0 exits 0 even when the signature is bad (it only prints "verify failure"), so
 * the verdict is the line it prints: both the exit status and that line are checked.
 */
export function opensslVerifiesRequest(file: string): boolean {
  const result = spawnSync('openssl', ['req', '-in', file, '-verify', '-noout'], { encoding: 'utf8' });
  const said = result.stderr + result.stdout;
  return result.status === 0 && /verify OK/.test(said) && !/failure/.test(said);
}

/** Runs openssl and returns its stdout; throws with its stderr when it fails. */
export function openssl(args: string[]): string {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}
