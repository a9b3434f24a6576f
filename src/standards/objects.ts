/** PIV data object identifiers (SP 800-73-4 part 1 table 3) and Yubico's own. */
export const OBJECT = {
  CARD_CAPABILITY_CONTAINER: 0x5fc107,
  CHUID: 0x5fc102,
  CERT_AUTHENTICATION: 0x5fc105,
  CERT_SIGNATURE: 0x5fc10a,
  CERT_KEY_MANAGEMENT: 0x5fc10b,
  CERT_CARD_AUTHENTICATION: 0x5fc101,
  FINGERPRINTS: 0x5fc103,
  SECURITY_OBJECT: 0x5fc106,
  FACIAL_IMAGE: 0x5fc108,
  /** "Printed information": YubiKeys keep the PIN-protected management key here; readable only after VERIFY. */
  PRINTED: 0x5fc109,
  KEY_HISTORY: 0x5fc10c,
  /** Cardholder iris images: like fingerprints and the facial image, readable only after VERIFY. */
  IRIS_IMAGES: 0x5fc121,
  /** Yubico admin data: flags telling tools that a protected management key is stored. */
  ADMIN_DATA: 0x5fff00,
  ATTESTATION_CERTIFICATE: 0x5fff01,
  /** The discovery object is addressed by the one-byte tag 7E. */
  DISCOVERY: 0x7e,
} as const;

/** The tag that wraps every PIV data object's content. */
export const TAG_DATA_OBJECT = 0x53;
/** The tag list tag in GET/PUT DATA. */
export const TAG_OBJECT_ID = 0x5c;

/** Certificate object tags: 70 certificate, 71 CertInfo (compression), FE error detection code. */
export const TAG_CERTIFICATE = 0x70;
export const TAG_CERT_INFO = 0x71;
export const TAG_ERROR_DETECTION = 0xfe;
/**
 * The largest object content (inside 53) a YubiKey 4/5 stores: yubico-piv-tool's CB_OBJ_MAX, the 3072-byte buffer
 * less the 5C/53 framing. A certificate object larger than this is written gzip-compressed (CertInfo 01), as ykman's
 * `piv certificates import --compress` writes it.
 */
export const MAX_OBJECT_CONTENT = 3063;
export const CERT_INFO_PLAIN = 0x00;
export const CERT_INFO_GZIP = 0x01;

export function certificateObjectForSlot(slot: number): number | undefined {
  switch (slot) {
    case 0x9a:
      return OBJECT.CERT_AUTHENTICATION;
    case 0x9c:
      return OBJECT.CERT_SIGNATURE;
    case 0x9d:
      return OBJECT.CERT_KEY_MANAGEMENT;
    case 0x9e:
      return OBJECT.CERT_CARD_AUTHENTICATION;
    case 0xf9:
      return OBJECT.ATTESTATION_CERTIFICATE;
    default:
      // Retired key management slots 82..95 map to 5FC10D..5FC120.
      if (slot >= 0x82 && slot <= 0x95) return 0x5fc10d + (slot - 0x82);
      return undefined;
  }
}

/** Object ids as the 1- or 3-byte tag the 5C list carries. */
export function objectIdBytes(objectId: number): Uint8Array {
  if (objectId <= 0xff) return Uint8Array.of(objectId);
  if (objectId <= 0xffff) return Uint8Array.of(objectId >> 8, objectId & 0xff);
  return Uint8Array.of((objectId >> 16) & 0xff, (objectId >> 8) & 0xff, objectId & 0xff);
}

export function objectIdHex(objectId: number): string {
  return objectId.toString(16).toUpperCase();
}
