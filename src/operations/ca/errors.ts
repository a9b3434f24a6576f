/** What can go wrong with the SSH CA, as typed errors the CLI prints (exit status 1 unless a usage error). */
import { PivEnrollError } from '../../errors.js';

export class CaError extends PivEnrollError {}
/** DIR holds no CA (no ca.json): `ca init` first. */
export class CaNotFoundError extends CaError {}
/** `ca init` on a DIR that already holds a CA: a CA key is never replaced. */
export class CaExistsError extends CaError {}
/** The card or slot in use is not the one the CA was created with. */
export class WrongCaCardError extends CaError {}
/** The CA signature did not verify against the CA public key (a broken card or key): nothing was written. */
export class CaSignatureError extends CaError {}
