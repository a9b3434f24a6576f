/**
 * The policy judged on what a card holds, for `status` and `doctor`: per slot with a key, every rule ok or problem.
 * The facts come from the card's metadata and Management application; what they do not tell stays unknown.
 */
import type { SlotStatus, DeviceStatus } from '../card-status.js';
import { evaluatePolicy } from './rules.js';
import type { PinPolicyWord, PolicyFacts, PolicyRuleResult, SitePolicy, TouchPolicyWord } from './types.js';

export interface SlotPolicyReport {
  slot: string;
  results: PolicyRuleResult[];
}

export interface CardPolicyReport {
  file: string;
  status: 'ok' | 'problem';
  slots: SlotPolicyReport[];
}

const word = (name: string | undefined) => name?.toLowerCase().replace(/_/g, '-');

/** The facts of one slot as status reports it. */
export function slotPolicyFacts(firmware: string, slot: SlotStatus, device: DeviceStatus | undefined): PolicyFacts {
  return {
    keyOrigin: slot.origin,
    algorithm: slot.algorithm,
    pinPolicy: word(slot.pinPolicy) as PinPolicyWord | undefined,
    touchPolicy: word(slot.touchPolicy) as TouchPolicyWord | undefined,
    firmware,
    formFactor: device?.formFactorName,
    fips: device?.fips,
  };
}

/** Every slot holding a key (the attestation slot f9 is Yubico's, not the site's). */
export function judgeCardSlots(policy: SitePolicy, firmware: string, slots: SlotStatus[], device: DeviceStatus | undefined): CardPolicyReport {
  const judged = slots
    .filter((s) => s.algorithm !== undefined && s.slot.toLowerCase() !== 'f9')
    .map((s) => ({ slot: s.slot, results: evaluatePolicy(policy, slotPolicyFacts(firmware, s, device)) }));
  const status = judged.some((s) => s.results.some((r) => r.status === 'problem')) ? 'problem' : 'ok';
  return { file: policy.file, status, slots: judged };
}

/** Lines of text: a heading, then one line per rule. */
export function describeCardPolicy(report: CardPolicyReport): string[] {
  const lines = [`Site policy ${report.file}: ${report.status === 'ok' ? 'every rule met' : 'PROBLEMS'}`];
  if (report.slots.length === 0) lines.push('  no slot holds a key to judge');
  for (const slot of report.slots) {
    lines.push(`  Slot ${slot.slot}:`);
    for (const r of slot.results) lines.push(`    ${r.status === 'ok' ? 'ok     ' : 'PROBLEM'} ${r.rule}: ${r.message}`);
  }
  return lines;
}
