/**
 * The escrow of a card's PUK and management key: age-encrypted to the site's recipients, opened only by its identity,
 * readable by the Debian `age` CLI (and the other way round), and every opening is an event in the inventory.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { escrowEvents, latestEscrow, recordEscrow } from '../../src/operations/inventory/escrow-store.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { EscrowError, openEscrow, parseEscrowRecipients, readEscrow, readEscrowIdentity, sealEscrow, type EscrowContent } from '../../src/operations/secrets/escrow.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-escrow-'));
const CONTENT: EscrowContent = { format: 'piv-enroll-escrow/1', serial: 4242, puk: '83920174', managementKey: 'a1'.repeat(24), managementKeyAlgorithm: 'AES192', managementKeyProtected: true, createdAt: '2026-11-24T10:00:00.000Z' };

async function identityFile(name: string): Promise<{ file: string; recipient: string; identity: string }> {
  const identity = await generateX25519Identity();
  const file = join(dir, name);
  writeFileSync(file, `# created: test\n# public key: ${await identityToRecipient(identity)}\n${identity}\n`, { mode: 0o600 });
  return { file, identity, recipient: await identityToRecipient(identity) };
}

describe('escrow', () => {
  test('sealed to a recipient, opened by its identity; another identity gets a clear error naming the recipient', async () => {
    const site = await identityFile('site.txt');
    const other = await identityFile('other.txt');
    const sealed = await sealEscrow([site.recipient], CONTENT);
    expect(sealed).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    expect(sealed).not.toContain(CONTENT.puk);
    expect(sealed).not.toContain(CONTENT.managementKey);
    expect(await openEscrow(sealed, site.recipient, await readEscrowIdentity(site.file), 4242)).toEqual(CONTENT);
    const wrong = openEscrow(sealed, site.recipient, await readEscrowIdentity(other.file), 4242);
    await expect(wrong).rejects.toThrow(EscrowError);
    await expect(wrong).rejects.toThrow(`this escrow key does not open card 4242's escrow: it was encrypted to ${site.recipient}`);
    // An escrow of another card, copied into this card's row, is refused.
    await expect(openEscrow(sealed, site.recipient, [site.identity], 4343)).rejects.toThrow(/holds something else/);
  });

  test('interop with the Debian age CLI: age -d opens what we seal, and we open what age -r seals', async () => {
    const site = await identityFile('cli.txt');
    const sealedFile = join(dir, 'escrow.age');
    writeFileSync(sealedFile, await sealEscrow([site.recipient], CONTENT));
    expect(JSON.parse(execFileSync('age', ['-d', '-i', site.file, sealedFile], { encoding: 'utf8' }))).toEqual(CONTENT);
    const theirs = execFileSync('age', ['-a', '-r', site.recipient], { input: JSON.stringify(CONTENT), encoding: 'utf8' });
    expect(await openEscrow(theirs, site.recipient, [site.identity], 4242)).toEqual(CONTENT);
    // Our identity files are age-keygen's: one it wrote opens ours too.
    const keygen = join(dir, 'keygen.txt');
    execFileSync('age-keygen', ['-o', keygen], { stdio: 'pipe' });
    const recipient = execFileSync('age-keygen', ['-y', keygen], { encoding: 'utf8' }).trim();
    expect(await openEscrow(await sealEscrow([recipient], CONTENT), recipient, await readEscrowIdentity(keygen), 4242)).toEqual(CONTENT);
  });

  test('recipients: age1… or a file of them; a typo is refused before anything else', async () => {
    const a = await identityFile('a.txt');
    const b = await identityFile('b.txt');
    expect(await parseEscrowRecipients(a.recipient)).toEqual([a.recipient]);
    const list = join(dir, 'recipients.txt');
    writeFileSync(list, `# the helpdesk\n${a.recipient}\n\n# the backup key in the safe\n${b.recipient}\n`);
    expect(await parseEscrowRecipients(list)).toEqual([a.recipient, b.recipient]);
    await expect(parseEscrowRecipients(`${a.recipient.slice(0, -1)}x`)).rejects.toThrow(UsageError);
    await expect(parseEscrowRecipients(join(dir, 'absent'))).rejects.toThrow(/neither an age recipient \(age1…\) nor a readable file/);
    // Both can open it.
    const sealed = await sealEscrow([a.recipient, b.recipient], CONTENT);
    expect((await openEscrow(sealed, '', [b.identity], 4242)).puk).toBe(CONTENT.puk);
  });

  test('an identity file others can read is refused, and its content is never quoted', async () => {
    const loose = await identityFile('loose.txt');
    chmodSync(loose.file, 0o644);
    await expect(readEscrowIdentity(loose.file)).rejects.toThrow(/can be read by other users: chmod 600/);
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'AGE-SECRET-KEY-1NOTAKEY\n', { mode: 0o600 });
    const error = (await readEscrowIdentity(bad).then(() => new Error('accepted'), (e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).not.toContain('NOTAKEY');
  });

  test('readEscrow: the newest escrow of the card, and an escrow-show event (who, host, purpose; no secret); a wrong key writes nothing', async () => {
    const site = await identityFile('inv.txt');
    const other = await identityFile('inv-other.txt');
    const inventory = await Inventory.open(join(dir, 'inventory.sqlite'));
    try {
      await inventory.recordEnrollment({ person: 'ana', card: { serial: 4242 }, slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:x', authorizedKey: 'k', options: {} });
      await recordEscrow(inventory, { cardSerial: 4242, recipient: site.recipient, ciphertext: await sealEscrow([site.recipient], CONTENT) }, new Date());
      await expect(readEscrow(inventory, 4242, [other.identity])).rejects.toThrow(/does not open card 4242's escrow/);
      await expect(readEscrow(inventory, 4343, [site.identity])).rejects.toThrow(/holds no escrow for card 4343/);
      expect((await escrowEvents(inventory, 4242)).map((e) => e.kind)).toEqual(['escrow']);
      const content = await readEscrow(inventory, 4242, [site.identity], { purpose: 'pin-unblock', who: 'helpdesk', host: 'desk1' });
      expect(content.puk).toBe(CONTENT.puk);
      const events = await escrowEvents(inventory, 4242);
      expect(events.map((e) => e.kind)).toEqual(['escrow', 'escrow-show']);
      expect(events[1]!.detail).toBe('card 4242: escrow opened by helpdesk@desk1 (pin-unblock)');
      const everything = JSON.stringify(await inventory.db.query('SELECT * FROM events')) + JSON.stringify(await latestEscrow(inventory, 4242));
      expect(everything).not.toContain(CONTENT.puk);
      expect(everything).not.toContain(CONTENT.managementKey);
    } finally {
      await inventory.close();
    }
  });
});
