/** The enrollment backend that speaks to the card itself, over APDUs through a PivSession. */
import { decodeCertificateObject } from '../../bytes/certificate-object.js';
import { wipe } from '../../bytes/hex.js';
import { OBJECT } from '../../standards/objects.js';
import { readProtectedManagementKey, storeProtectedManagementKey } from '../../piv/protected-management-key.js';
import { NotFoundError } from '../../piv/errors.js';
import type { PivSession } from '../../piv/session.js';
import { DEFAULT_MANAGEMENT_KEY } from '../card-status.js';
import { pivCardKey } from './card-signer.js';
import type { EnrollmentTarget, KeyAttestation } from './target.js';
import { hasFeature } from '../../standards/firmware.js';

/** The slot's attestation and the f9 certificate that signed it; neither on firmware before 4.3, which has no ATTEST. */
async function attestationOf(session: PivSession, slot: number): Promise<KeyAttestation> {
  if (!hasFeature(session.version, 'attestation')) return {};
  const attestationDer = await session.attest(slot).catch(() => undefined);
  const deviceCertificateDer = attestationDer && (await session.getObject(OBJECT.ATTESTATION_CERTIFICATE).then((content) => decodeCertificateObject(content).der, () => undefined));
  return { attestationDer, deviceCertificateDer };
}

export function apduTarget(session: PivSession): EnrollmentTarget {
  return {
    backend: 'apdu',
    changePin: (current, next) => session.changePin(current, next),
    changePuk: (current, next) => session.changePuk(current, next),
    async authenticate(inspection, secrets, pin) {
      // The PIN first: a wrong one must stop the enrollment before anything is written.
      await session.verifyPin(pin);
      let key: Uint8Array;
      if (inspection.managementKeyIsDefault === true) key = DEFAULT_MANAGEMENT_KEY.slice();
      else if (secrets.managementKey) key = secrets.managementKey.slice();
      else if (inspection.managementKeyProtected) key = await readProtectedManagementKey(session);
      else key = DEFAULT_MANAGEMENT_KEY.slice(); // firmware without metadata: try the default, as ykman does
      try {
        await session.authenticate(key);
      } finally {
        wipe(key);
      }
    },
    async replaceManagementKey(algorithm, key, pin, now) {
      await session.verifyPin(pin);
      await storeProtectedManagementKey(session, algorithm, key, now);
    },
    async generateKey(slot, algorithm, policy) {
      const publicKey = await session.generateKey(slot, algorithm, policy);
      return { publicKey, ...(await attestationOf(session, slot)) };
    },
    async moveStagedKey(from, to) {
      await session.deleteKey(to).catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error; // an empty slot: nothing to delete
      });
      await session.moveKey(from, to);
      return attestationOf(session, to);
    },
    importKey: async (slot, privateKey, policy) => {
      await session.importKey(slot, privateKey, policy);
    },
    signingKey: async (slot, algorithm, _publicKey, pinPolicy, pin) => pivCardKey({ session, slot, algorithm, pinPolicy, pin }),
    putCertificate: (slot, der) => session.putCertificate(slot, der),
    attestationIntermediate: async () => {
      try {
        return decodeCertificateObject(await session.getObject(OBJECT.ATTESTATION_CERTIFICATE)).der;
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    },
    writeChuid: async (guid) => {
      await session.setChuid(guid);
      return true;
    },
  };
}
