/** Text rendering of a CardStatusReport, in the spirit of `ykman piv info`. */
import type { CardStatusReport, CredentialStatus } from '../operations/card-status.js';

function credentialLine(name: string, c: CredentialStatus): string {
  const tries = c.attemptsRemaining === undefined ? 'tries left: unknown (already verified, or not reported)' : `tries left: ${c.attemptsRemaining}${c.totalAttempts ? `/${c.totalAttempts}` : ''}`;
  const isDefault = c.isDefault === undefined ? '' : c.isDefault ? ', FACTORY DEFAULT — change it' : ', changed from default';
  return `${name}: ${tries}${isDefault}`;
}

export function formatStatus(report: CardStatusReport): string {
  const lines: string[] = [];
  lines.push(`Card: ${report.card}`);
  lines.push(`Firmware: ${report.firmware}`);
  lines.push(`Serial: ${report.serial ?? 'not readable over PIV on this firmware'}`);
  const device = report.device;
  lines.push(`Form factor: ${device ? device.formFactor : 'unknown (the card has no YubiKey Management application)'}`);
  if (device) {
    const enabled = device.usbEnabled ? ` (enabled: ${device.usbEnabled.join(', ') || 'none'})` : '';
    lines.push(`Applications over USB: ${device.usbSupported.join(', ') || 'none'}${enabled}`);
    lines.push(`Applications over NFC: ${device.nfcSupported ? `${device.nfcSupported.join(', ') || 'none'}${device.nfcEnabled ? ` (enabled: ${device.nfcEnabled.join(', ') || 'none'})` : ''}` : 'no NFC'}`);
    if (device.configLocked) lines.push('Configuration: locked (a lock code protects it)');
  } else {
    lines.push('Applications: unknown');
  }
  lines.push(credentialLine('PIN', report.pin));
  lines.push(report.puk.attemptsRemaining === undefined && report.puk.isDefault === undefined ? 'PUK: not reported by this firmware' : credentialLine('PUK', report.puk));
  const mk = report.managementKey;
  const mkDefault = mk.isDefault === undefined ? '' : mk.isDefault ? ', FACTORY DEFAULT — change it' : ', changed from default';
  lines.push(`Management key: ${mk.algorithm}${mkDefault}${mk.touchRequired ? ', touch required' : ''}${mk.storedPinProtected ? ', stored on the card PIN-protected' : ''}`);
  lines.push(`CHUID: ${report.chuidGuid ? `GUID ${report.chuidGuid}` : 'not set (Windows needs one to use the card)'}`);
  lines.push(`CCC: ${report.cccPresent ? 'present' : 'not set'}`);
  if (report.slots.length === 0) lines.push('Slots: all empty');
  for (const slot of report.slots) {
    lines.push(`Slot ${slot.slot}:`);
    if (slot.algorithm) lines.push(`  Key: ${slot.algorithm}${slot.origin ? `, ${slot.origin} ${slot.origin === 'generated' ? 'on the card' : ''}`.trimEnd() : ''}`);
    if (slot.pinPolicy) lines.push(`  PIN policy: ${slot.pinPolicy}, touch policy: ${slot.touchPolicy}`);
    if (slot.publicKeySha256) lines.push(`  Public key SHA-256: ${slot.publicKeySha256}`);
    const cert = slot.certificate;
    if (cert) {
      lines.push(`  Certificate subject: ${cert.subject}`);
      lines.push(`  Certificate issuer: ${cert.issuer}`);
      lines.push(`  Certificate serial: ${cert.serial}`);
      lines.push(`  Valid: ${cert.notBefore} to ${cert.notAfter}`);
      if (cert.matchesKey === false) lines.push('  WARNING: the certificate does not hold the key in this slot');
    } else if (slot.certificateError) {
      lines.push(`  Certificate: unreadable (${slot.certificateError})`);
    } else {
      lines.push('  Certificate: none');
    }
    const attested = slot.attestation;
    if (attested) lines.push(`  Attestation: ${attested.verdict === 'verified' ? `verified (${attested.trust})` : `${attested.verdict}${attested.message ? ` — ${attested.message}` : ''}`}`);
  }
  return lines.join('\n');
}
