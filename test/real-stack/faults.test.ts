import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { testCertificate } from '../support/test-certificate.js';
import { PivSession } from '../../src/piv/session.js';
import { CardRemovedError } from '../../src/transport/pcsc/errors.js';
import { openPcscCard } from '../../src/transport/pcsc/pcsc-transport.js';
import { parseCardState } from '../../src/transport/virtual/state-file.js';
import { CLI, DEFAULT_MANAGEMENT_KEY_HEX, READER, ROOT, SECOND_READER, run, scratchDir, serveCard, waitForEmptyReader, type ServedCard } from './bench.js';

/** Big enough (a 600-character name) that short APDUs must chain it. */
const bigCertificate = (): Promise<Uint8Array> => testCertificate({ commonName: 'x'.repeat(600) });

describe.skipIf(!inject('benchReady'))('faults: each a clear error, and the card file intact', () => {
  const cards: ServedCard[] = [];
  afterEach(async () => {
    const stopping = cards.splice(0);
    for (const card of stopping) if (card.process.exitCode === null) card.process.kill('SIGTERM');
    for (const card of stopping) await card.stop();
  });

  test('card removed in the middle of a chained command: CardRemovedError; the state file still holds the card as it was', async () => {
    const card = await serveCard({ faults: ['drop-mid-command'] });
    cards.push(card);
    const before = readFileSync(card.state, 'utf8');
    const transport = await openPcscCard(READER);
    try {
      const session = await PivSession.open(transport, { apduFormat: 'short' }); // short APDUs: the certificate goes out chained
      await session.authenticate(fromHex(DEFAULT_MANAGEMENT_KEY_HEX));
      await expect(session.putCertificate(0x9c, await bigCertificate())).rejects.toBeInstanceOf(CardRemovedError);
    } finally {
      await transport.close();
    }
    expect(await card.exited).toBe(0);
    expect(card.log()).toMatch(/card vanishes in the middle of a chained command/);
    const after = readFileSync(card.state, 'utf8');
    expect(after).toBe(before);
    expect(parseCardState(after, card.state).objects).not.toHaveProperty('5FC10A');

    // The same card comes back, unharmed.
    await waitForEmptyReader();
    const again = await serveCard({ state: card.state });
    cards.push(again);
    const status = await run(process.execPath, [CLI, 'status', '--reader', READER, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).serial).toBe(parseCardState(before, card.state).serial);
  });

  test('two cards present: piv-enroll names both and asks for --reader; --reader picks one', async () => {
    cards.push(await serveCard({ port: 35965 }), await serveCard({ port: 35966 }));
    const ambiguous = await run(process.execPath, [CLI, 'status']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(`several PIV cards are present: "${READER}", "${SECOND_READER}"; choose one with --reader`);
    const chosen = await run(process.execPath, [CLI, 'status', '--reader', '00 01', '--json']);
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(JSON.parse(chosen.stdout).card).toBe(SECOND_READER);
  });

  test('a card held by another program: "in use by another program", and it works once released', async () => {
    cards.push(await serveCard());
    const holder = await openPcscCard(READER); // exclusive, as piv-enroll itself holds a card
    try {
      const busy = await run(process.execPath, [CLI, 'status', '--reader', READER]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/is in use by another program/);
    } finally {
      await holder.close();
    }
    const free = await run(process.execPath, [CLI, 'status', '--reader', READER]);
    expect(free.code, free.stderr).toBe(0);
  });

  test('no card in any reader: enroll says so and uses the embedded virtual card, kept under the state directory', async () => {
    const home = scratchDir();
    const result = await run(process.execPath, [CLI, 'enroll', '--user', 'demo', '--keep-default-credentials', '--yes', '--json'], { env: { HOME: home, XDG_STATE_HOME: '' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/No card to use \(no card in any reader[\s\S]*Using the embedded virtual card in .*\.local\/state\/piv-enroll\/virtual-card\.json/);
    expect(JSON.parse(result.stdout).card).toBe(`virtual card (${join(home, '.local/state/piv-enroll/virtual-card.json')})`);
  });

  test('a reader name that matches nothing lists the readers there are', async () => {
    const missing = await run(process.execPath, [CLI, 'status', '--reader', 'Gemalto']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no reader name contains "Gemalto"; readers: .*"Yubico YubiKey OTP\+FIDO\+CCID 00 00"/);
    const empty = await run(process.execPath, [CLI, 'status', '--reader', 'Yubico']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no card in the reader\(s\) matching "Yubico"/);
  });

  test('pcscd stopped: piv-enroll says so and how to start it; the served card reconnects when pcscd is back', async () => {
    const card = await serveCard();
    cards.push(card);
    try {
      execFileSync('pkill', ['-x', 'pcscd']);
      for (let i = 0; i < 50 && pcscdRunning(); i++) await new Promise((r) => setTimeout(r, 100));
      const result = await run(process.execPath, [CLI, 'status']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/pcscd\) is not running: start it with/);
    } finally {
      execFileSync('bash', [join(ROOT, 'test/bench/testbench.sh')], { stdio: 'ignore' });
    }
    expect(pcscdRunning()).toBe(true);
    // vpcd went away with pcscd; the card server keeps trying and plugs the same card back in.
    for (let i = 0; i < 100 && !/reconnected to vpcd/.test(card.log()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(card.log()).toMatch(/reconnected to vpcd at 127\.0\.0\.1:35965/);
    let status = await run(process.execPath, [CLI, 'status', '--json']);
    for (let i = 0; i < 20 && status.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250)); // pcscd polls the reader every 0.4 s
      status = await run(process.execPath, [CLI, 'status', '--json']);
    }
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).serial).toBe(parseCardState(readFileSync(card.state, 'utf8'), card.state).serial);
  });
});

function pcscdRunning(): boolean {
  try {
    execFileSync('pidof', ['pcscd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
