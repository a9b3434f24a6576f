/** Types for bcrypt-pbkdf (OpenBSD's bcrypt_pbkdf, the KDF of passphrase-protected OpenSSH private keys). */
declare module 'bcrypt-pbkdf' {
  /** Fills `key` from the passphrase and salt; returns 0, or -1 on bad arguments. */
  function pbkdf(pass: Uint8Array, passlen: number, salt: Uint8Array, saltlen: number, key: Uint8Array, keylen: number, rounds: number): number;
  const bcryptPbkdf: { pbkdf: typeof pbkdf };
  export default bcryptPbkdf;
}
