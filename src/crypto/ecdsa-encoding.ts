/**
 * ECDSA signatures come in two encodings: DER SEQUENCE { r INTEGER, s INTEGER } (what a PIV card returns
 * and X.509 carries) and r‖s of fixed width (IEEE P1363: what PKCS#11 CKM_ECDSA returns).
 */
function derInteger(unsigned: Uint8Array): Uint8Array {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const body = unsigned.subarray(start);
  const pad = body[0]! & 0x80 ? 1 : 0; // a set top bit would read as negative
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/** r‖s → DER. Sizes up to P-521 keep every length in one byte except the outer one, handled here. */
export function ecdsaP1363ToDer(signature: Uint8Array): Uint8Array {
  if (signature.length === 0 || signature.length % 2 !== 0) throw new RangeError('an r‖s ECDSA signature has two halves of equal length');
  const half = signature.length / 2;
  const r = derInteger(signature.subarray(0, half));
  const s = derInteger(signature.subarray(half));
  const bodyLength = r.length + s.length;
  const header = bodyLength < 0x80 ? [0x30, bodyLength] : [0x30, 0x81, bodyLength];
  return Uint8Array.from([...header, ...r, ...s]);
}
