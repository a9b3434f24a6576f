/**
 * `piv-enroll attest`: proves a slot's key was generated on the card. The slot's attestation certificate must
 * chain through the card's f9 certificate to a trusted root — Yubico's (templates/attestation/), plus the files of
 * --attestation-roots, plus, for --virtual only, the virtual card test root — and name the slot's key and the
 * card's serial: the same trust as enroll, batch, rekey, status and doctor. Exit 0 verified, 1 refused (with the
 * reason), 2 usage.
 */
import { UsageError } from '../../errors.js';
import { attestCardSlot } from '../../operations/attestation/attest-card.js';
import { describeFacts } from '../../operations/attestation/extensions.js';
import { siteAttestationTrust, trustForCard } from '../../operations/attestation/evidence.js';
import type { AttestationVerdict } from '../../operations/attestation/verify.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { parseSlot } from '../../standards/references.js';
import { attestationVerdictJson } from '../attestation-json.js';
import type { Output } from '../output.js';

export interface AttestFlags extends CardSelection {
  slot: string;
  attestationRoots?: string[];
  json?: boolean;
}

export interface AttestEnvironment {
  now: () => Date;
}

export const defaultAttestEnvironment: AttestEnvironment = { now: () => new Date() };

function formatVerdict(verdict: AttestationVerdict, slot: string): string {
  const facts = verdict.facts ? describeFacts(verdict.facts) : {};
  const lines = [
    verdict.verified ? `Slot ${slot}: attested — the key was generated on this card.` : `Slot ${slot}: attestation refused (${verdict.reason}): ${verdict.message}`,
    `Trusted roots: ${verdict.trust}`,
    `Chain: ${verdict.chain.map((s) => s.replace(/\n/g, ', ')).join(' ← ')}`,
  ];
  for (const [name, value] of Object.entries(facts)) if (value !== undefined) lines.push(`${name}: ${String(value)}`);
  return lines.join('\n');
}

export async function runAttest(flags: AttestFlags, output: Output, environment: AttestEnvironment = defaultAttestEnvironment): Promise<number> {
  const slot = parseSlot(flags.slot);
  if (slot === undefined) throw new UsageError(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  // The root files are read before the card is opened: a bad file is refused without touching it.
  const site = await siteAttestationTrust(flags.attestationRoots ?? []);
  const card = await openCard(flags);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    // The embedded virtual card (no reader) is also judged against its test root; a card in a reader never is.
    const trust = await trustForCard(site, card.readerName === undefined);
    const result = await attestCardSlot({ session: card.session, slot, trust, now: environment.now() });
    const { verdict } = result;
    if (flags.json) {
      output.result(
        JSON.stringify(
          {
            slot: flags.slot.toLowerCase(),
            ...attestationVerdictJson(verdict),
            cardSerial: result.cardSerial,
            slotKeySource: result.slotKeySource ?? 'unknown (not compared)',
          },
          null,
          2,
        ),
      );
    } else if (verdict.verified) {
      output.result(formatVerdict(verdict, flags.slot.toLowerCase()));
    } else {
      output.error(formatVerdict(verdict, flags.slot.toLowerCase()));
    }
    return verdict.verified ? 0 : 1;
  } finally {
    await card.close();
  }
}
