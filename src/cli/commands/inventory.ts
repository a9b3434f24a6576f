/**
 * `piv-enroll inventory list|show|export`: who has which card and key, where the key went, which certificates
 * it has and when they end. Tables for people, `--json` and `--csv` for programs and spreadsheets.
 */
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../operations/ca/validity.js';
import { defaultInventoryLocation, firstExpiry, hostsWithKey, Inventory, type AttestationRecord, type EnrollmentFilter, type EnrollmentRecord, type EnrollmentStatus, type InventoryEvent } from '../../operations/inventory/inventory.js';
import type { Output } from '../output.js';

export interface InventoryFlags {
  inventory?: string;
  status?: string;
  person?: string;
  expiringWithin?: string;
  json?: boolean;
  csv?: boolean;
}

const STATUSES = ['active', 'replaced', 'revoked', 'all'];

function filterFrom(flags: InventoryFlags, now: Date): EnrollmentFilter {
  const problems: string[] = [];
  if (flags.json && flags.csv) problems.push('--json and --csv each choose the output: give one');
  if (flags.status !== undefined && !STATUSES.includes(flags.status)) problems.push(`--status takes ${STATUSES.join(', ')}, not "${flags.status}"`);
  let expiringBefore: Date | undefined;
  if (flags.expiringWithin !== undefined) {
    try {
      expiringBefore = new Date(now.getTime() + parseDuration(flags.expiringWithin, '--expiring-within') * 1000);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { status: (flags.status ?? 'active') as EnrollmentStatus | 'all', person: flags.person, expiringBefore };
}

async function withInventory<T>(flags: InventoryFlags, work: (inventory: Inventory) => Promise<T>): Promise<T> {
  const location = flags.inventory ?? defaultInventoryLocation();
  if (location === 'none') throw new UsageError('--inventory none: there is no inventory to read');
  const inventory = await Inventory.open(location);
  try {
    return await work(inventory);
  } finally {
    await inventory.close();
  }
}

const CSV_COLUMNS = ['id', 'person', 'card_serial', 'card_virtual', 'card_status', 'firmware', 'slot', 'algorithm', 'fingerprint', 'status', 'certificate_serial', 'certificate_not_after', 'ssh_certificates', 'hosts', 'created_at', 'updated_at'];

function csvRow(r: EnrollmentRecord): Array<string | number> {
  return [
    r.id, r.person, r.cardSerial ?? '', r.cardVirtual ? 'yes' : '', r.cardStatus ?? '', r.firmware ?? '', r.slot, r.algorithm, r.fingerprint, r.status, r.certificateSerial ?? '', r.certificateNotAfter ?? '',
    r.caCertificates.map((c) => `${c.serial}${c.revokedAt ? ' (revoked)' : ''} until ${c.validBefore}`).join('; '),
    r.deployments.map((d) => `${d.host} ${d.state}`).join('; '),
    r.createdAt, r.updatedAt,
  ];
}

/**
 * The card column: its serial, marked when it is the embedded virtual card (secrets in clear, never a real card), and
 * when it is no longer in use (lost: retired; reset: its keys are gone).
 */
function cardLabel(r: EnrollmentRecord): string {
  const marks = [r.cardVirtual ? 'virtual' : undefined, r.cardStatus && r.cardStatus !== 'active' ? r.cardStatus : undefined].filter(Boolean);
  return `${r.cardSerial === undefined ? '-' : String(r.cardSerial)}${marks.length > 0 ? ` (${marks.join(', ')})` : ''}`;
}

function table(records: EnrollmentRecord[]): string {
  if (records.length === 0) return 'No enrollments.';
  const rows = [
    ['ID', 'PERSON', 'CARD', 'SLOT', 'ALGORITHM', 'FINGERPRINT', 'EXPIRES', 'HOSTS', 'STATUS'],
    ...records.map((r) => [
      String(r.id), r.person, cardLabel(r), r.slot, r.algorithm, r.fingerprint,
      firstExpiry(r)?.slice(0, 10) ?? '-', String(hostsWithKey(r).length), r.status,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => rows.reduce((width, row) => Math.max(width, row[i]!.length), 0)); // no spread: an inventory can have more rows than a call takes arguments
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function render(records: EnrollmentRecord[], flags: InventoryFlags): string {
  if (flags.json) return JSON.stringify(records, null, 2);
  if (flags.csv) return stringify([CSV_COLUMNS, ...records.map(csvRow)]).trimEnd();
  return table(records);
}

export async function runInventoryList(flags: InventoryFlags, output: Output, now: Date = new Date()): Promise<number> {
  const filter = filterFrom(flags, now);
  const records = await withInventory(flags, (inventory) => inventory.enrollments(filter));
  output.result(render(records, flags));
  return 0;
}

export async function runInventoryExport(flags: InventoryFlags, output: Output): Promise<number> {
  if (!flags.json && !flags.csv) throw new UsageError('inventory export needs --json or --csv');
  const records = await withInventory(flags, (inventory) => inventory.enrollments({ status: 'all' }));
  output.result(render(records, flags));
  return 0;
}

/** The kept evidence: verdict, trust, chain, facts, policy verdict, and the certificates themselves. */
function attestationLines(a: AttestationRecord): string[] {
  const facts = Object.entries(a.facts ?? {}).map(([name, value]) => `${name} ${String(value)}`).join(', ');
  const policy = a.policyVerdict ? `  policy: ${JSON.stringify(a.policyVerdict)}` : undefined;
  return [
    `  attestation: ${a.verdict}${a.verdictMessage ? ` (${a.verdictMessage})` : ''}, against ${a.trust}`,
    ...(a.chain.length > 0 ? [`    chain: ${a.chain.map((c) => c.replace(/\n/g, ', ')).join(' ← ')}`] : []),
    ...(facts ? [`    facts: ${facts}`] : []),
    ...(policy ? [`  ${policy}`] : []),
    ...[a.attestationPem, a.deviceCertificatePem].filter((p): p is string => p !== undefined).flatMap((pem) => pem.trimEnd().split('\n').map((l) => `    ${l}`)),
  ];
}

/** One person, card serial or SHA256 fingerprint: every enrollment of it, with its history. */
export async function runInventoryShow(what: string, flags: InventoryFlags, output: Output): Promise<number> {
  const filter: EnrollmentFilter = what.startsWith('SHA256:') ? { fingerprint: what, status: 'all' } : /^\d+$/.test(what) ? { cardSerial: Number(what), status: 'all' } : { person: what, status: 'all' };
  const found = await withInventory(flags, async (inventory) => {
    const records = await inventory.enrollments(filter);
    const cardEvents = new Map<number, InventoryEvent[]>();
    for (const serial of new Set(records.map((r) => r.cardSerial).filter((c): c is number => c !== undefined))) cardEvents.set(serial, await inventory.cardEvents(serial));
    return Promise.all(records.map(async (r) => ({ ...r, attestations: await inventory.attestations(r.id), events: await inventory.events(r.id), cardEvents: r.cardSerial === undefined ? [] : cardEvents.get(r.cardSerial)! })));
  });
  if (found.length === 0) {
    output.error(`nothing in the inventory for "${what}" (a person, a card serial, or a SHA256:… fingerprint)`);
    return 1;
  }
  if (flags.json) {
    output.result(JSON.stringify(found, null, 2));
    return 0;
  }
  const lines: string[] = [];
  for (const r of found) {
    lines.push(`Enrollment ${r.id}: ${r.person}, ${r.status}${r.replacedBy ? ` (replaced by ${r.replacedBy})` : ''}`);
    lines.push(`  card ${r.cardSerial ?? '(no serial)'}${r.cardVirtual ? ' (the embedded virtual card: test only)' : ''}${r.cardStatus && r.cardStatus !== 'active' ? ` (card ${r.cardStatus})` : ''}${r.firmware ? `, firmware ${r.firmware}` : ''}, slot ${r.slot}, ${r.algorithm}, ${r.fingerprint}`);
    if (r.certificateNotAfter) lines.push(`  X.509 certificate ${r.certificateSerial ?? ''} until ${r.certificateNotAfter}`);
    for (const c of r.caCertificates) lines.push(`  SSH certificate ${c.serial} from ${c.caDir} (${c.principals.join(', ')}) until ${c.validBefore}${c.revokedAt ? `, revoked ${c.revokedAt}` : ''}`);
    for (const d of r.deployments) lines.push(`  host ${d.host}: ${d.state}${d.detail ? ` (${d.detail})` : ''}, ${d.updatedAt}`);
    for (const a of r.attestations) lines.push(...attestationLines(a));
    for (const e of r.events) lines.push(`  ${e.at} ${e.kind}${e.detail ? `: ${e.detail}` : ''}`);
  }
  const shown = new Set<number>();
  for (const r of found) {
    if (r.cardSerial === undefined || shown.has(r.cardSerial) || r.cardEvents.length === 0) continue;
    shown.add(r.cardSerial);
    lines.push(`Card ${r.cardSerial}: ${r.cardStatus ?? 'active'}`);
    for (const e of r.cardEvents) lines.push(`  ${e.at} ${e.kind}${e.detail ? `: ${e.detail}` : ''}`);
  }
  output.result(lines.join('\n'));
  return 0;
}
