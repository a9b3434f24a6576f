/** SELECT, GET VERSION, GET SERIAL, GET DATA and PUT DATA on the virtual card. */
import { bytesEqual, fromHex, toHex, uintBytes } from '../../../bytes/hex.js';
import { encodeTlv, parseTlvs } from '../../../bytes/tlv.js';
import { PIV_AID_LONG, PIV_PIX } from '../../../standards/instructions.js';
import { OBJECT, TAG_DATA_OBJECT, TAG_OBJECT_ID } from '../../../standards/objects.js';
import { SW } from '../../../standards/status-words.js';
import { CardStatus, freshVolatileState, type InstructionHandler } from '../card-context.js';
import { objectKey } from '../card-state.js';
import { readUint } from '../../../bytes/hex.js';
import { decodeCertificateObject, encodeCertificateObject } from '../../../bytes/certificate-object.js';
import { counterfeitDeviceCertificate } from '../attestation.js';

/**
 * The largest object content (inside 53) a YubiKey 4/5 stores: yubico-piv-tool's CB_OBJ_MAX, the
 * 3072-byte buffer less the 5C/53 framing.
 */
export const MAX_OBJECT_SIZE = 3063;

/** Application property template: `61 11 4F 06 <PIX> 79 07 4F 05 <RID>`, as a YubiKey answers SELECT. */
export const SELECT_RESPONSE = encodeTlv(
  0x61,
  Uint8Array.from([...encodeTlv(0x4f, PIV_PIX), ...encodeTlv(0x79, encodeTlv(0x4f, PIV_AID_LONG.subarray(0, 5)))]),
);

/** Discovery object: PIV AID, PIN usage policy 40 00 (PIV PIN only). Returned without a 53 wrapper. */
export const DISCOVERY_OBJECT = encodeTlv(
  0x7e,
  Uint8Array.from([...encodeTlv(0x4f, PIV_AID_LONG), ...encodeTlv(0x5f2f, Uint8Array.of(0x40, 0x00))]),
);

/**
 * Objects only readable after VERIFY (SP 800-73-4 part 1 table 3: fingerprints, printed information, facial
 * image, iris images); the PIN-protected management key lives in PRINTED. As on a YubiKey, the access condition
 * is checked before existence: without the PIN these answer 6982 whether or not they hold anything, so an
 * unverified read never tells whether a management key is stored.
 */
const PIN_PROTECTED_OBJECTS = new Set<number>([OBJECT.PRINTED, OBJECT.FINGERPRINTS, OBJECT.FACIAL_IMAGE, OBJECT.IRIS_IMAGES]);

export const select: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x04 || cmd.p2 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  // Hosts send the RID (5 bytes), RID+PIX without version (9) or the whole AID (11): a prefix match.
  const aid = cmd.data;
  if (aid.length < 5 || aid.length > PIV_AID_LONG.length || !bytesEqual(aid, PIV_AID_LONG.subarray(0, aid.length))) {
    throw new CardStatus(SW.FILE_NOT_FOUND, 'no such application');
  }
  ctx.volatile = freshVolatileState();
  return SELECT_RESPONSE;
};

export const getVersion: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0 || cmd.p2 !== 0) throw new CardStatus(SW.INCORRECT_P1P2);
  return Uint8Array.of(ctx.firmware.major, ctx.firmware.minor, ctx.firmware.patch);
};

export const getSerial: InstructionHandler = (ctx, cmd) => {
  ctx.requireFeature('serial');
  if (cmd.p1 !== 0 || cmd.p2 !== 0) throw new CardStatus(SW.INCORRECT_P1P2);
  return uintBytes(ctx.state.serial, 4);
};

/** The object id in a `5C <len> <id>` tag list; anything else in the field is refused. */
function requestedObject(field: Uint8Array): number {
  if (field.length < 1 || field.length > 3) throw new CardStatus(SW.INCORRECT_DATA, 'object id must be 1 to 3 bytes');
  return readUint(field);
}

export const getData: InstructionHandler = async (ctx, cmd) => {
  if (cmd.p1 !== 0x3f || cmd.p2 !== 0xff) throw new CardStatus(SW.INCORRECT_P1P2);
  let tlvs;
  try {
    tlvs = parseTlvs(cmd.data);
  } catch {
    throw new CardStatus(SW.INCORRECT_DATA, 'malformed tag list');
  }
  if (tlvs.length !== 1 || tlvs[0]!.tag !== TAG_OBJECT_ID) throw new CardStatus(SW.INCORRECT_DATA, 'GET DATA needs one 5C tag list');
  const id = requestedObject(tlvs[0]!.value);
  if (id === OBJECT.DISCOVERY) return DISCOVERY_OBJECT;
  if (PIN_PROTECTED_OBJECTS.has(id)) ctx.requirePin();
  const content = ctx.state.objects[objectKey(id)];
  if (content === undefined) throw new CardStatus(SW.FILE_NOT_FOUND, 'object not found');
  if (ctx.faults.has('attest-wrong-chain') && id === OBJECT.ATTESTATION_CERTIFICATE) {
    return encodeTlv(TAG_DATA_OBJECT, encodeCertificateObject(await counterfeitDeviceCertificate(decodeCertificateObject(fromHex(content)).der, ctx.state.serial)));
  }
  if (ctx.faults.has('wrong-certificate') && isSlotCertificate(id)) {
    const other = ctx.state.objects[objectKey(OBJECT.ATTESTATION_CERTIFICATE)];
    if (other !== undefined) return encodeTlv(TAG_DATA_OBJECT, fromHex(other));
  }
  return encodeTlv(TAG_DATA_OBJECT, fromHex(content));
};

/** Certificate objects of key slots (9A, 9C, 9D, 9E, retired), not the attestation one. */
function isSlotCertificate(id: number): boolean {
  return id === OBJECT.CERT_AUTHENTICATION || id === OBJECT.CERT_SIGNATURE || id === OBJECT.CERT_KEY_MANAGEMENT || id === OBJECT.CERT_CARD_AUTHENTICATION || (id >= 0x5fc10d && id <= 0x5fc120);
}

/** Valid object ids to write: the PIV 5FC1xx range and Yubico's 5FFFxx range. */
function isWritableObject(id: number): boolean {
  return (id >= 0x5fc101 && id <= 0x5fc123) || (id >= 0x5fff00 && id <= 0x5fffff);
}

/** PUT DATA: the management key is checked first, before the command's data and the object id are looked at. */
export const putData: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x3f || cmd.p2 !== 0xff) throw new CardStatus(SW.INCORRECT_P1P2);
  ctx.requireManagementKey();
  let tlvs;
  try {
    tlvs = parseTlvs(cmd.data);
  } catch {
    throw new CardStatus(SW.INCORRECT_DATA, 'malformed PUT DATA');
  }
  if (tlvs.length !== 2 || tlvs[0]!.tag !== TAG_OBJECT_ID || tlvs[1]!.tag !== TAG_DATA_OBJECT) {
    throw new CardStatus(SW.INCORRECT_DATA, 'PUT DATA needs 5C id and 53 data');
  }
  const id = requestedObject(tlvs[0]!.value);
  if (!isWritableObject(id)) throw new CardStatus(SW.INCORRECT_DATA, 'object cannot be written');
  const content = tlvs[1]!.value;
  if (content.length > MAX_OBJECT_SIZE) throw new CardStatus(SW.NOT_ENOUGH_MEMORY, 'object too large');
  if (ctx.faults.has('no-space') && content.length > 0 && isSlotCertificate(id)) throw new CardStatus(SW.NOT_ENOUGH_MEMORY, 'fault: no space');
  if (content.length === 0) delete ctx.state.objects[objectKey(id)];
  else ctx.state.objects[objectKey(id)] = toHex(content);
  ctx.markChanged();
  return new Uint8Array(0);
};
