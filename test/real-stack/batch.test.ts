/**
 * `piv-enroll batch` through the real stack: three people over two readers, enrolled in parallel, the third card
 * swapped in while the batch waits; deployment to a real sshd; an interrupted batch resumed without enrolling anyone
 * twice; a card enrolled elsewhere is not overwritten without --force.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { runBatchCommand } from '../../src/cli/commands/batch.js';
import { makeIdentity, startHost, stopHost, type TestSshd } from '../ssh/support/deploy-hosts.js';
import { CLI, READER, SECOND_READER, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';

const ENV = { ...process.env, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

async function waitFor(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!inject('benchReady'))('piv-enroll batch over two readers behind pcscd', () => {
  const cards: ServedCard[] = [];
  let host: TestSshd | undefined;
  afterEach(async () => {
    for (const card of cards.splice(0)) expect(await card.stop()).toBe(0);
    await stopHost(host);
    host = undefined;
  });

  test('three people, two readers: two at once, the third after a card swap; keys deployed and recorded', async () => {
    const dir = scratchDir();
    const deployer = await makeIdentity(dir, 'deployer');
    host = await startHost(deployer);
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
    const manifest = join(dir, 'intake.yaml');
    writeFileSync(manifest, [
      'people:',
      '  - user: ana',
      '    card-serial: 1001',
      `    hosts: [${host.spec}]`,
      '  - user: bo',
      '    card-serial: 1002',
      '    algorithm: ECCP256',
      '  - user: cy',
      '    card-serial: 1003',
      '    algorithm: ECCP256',
      '',
    ].join('\n'));
    const inventory = join(dir, 'inventory.sqlite');
    const ana = await serveCard({ serial: 1001 });
    cards.push(ana, await serveCard({ serial: 1002, port: 35966 }));

    const child = spawn(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', inventory, '--yes', '--json', '--wait', '2m', '--pkcs11', 'none',
      '--out', join(dir, 'out'), '--identity', deployer.privateKey, '--known-hosts', knownHosts], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

    await waitFor(() => /ana: enrolled/.test(stderr) && /bo: enrolled/.test(stderr), 'ana and bo to be enrolled');
    // Both started before either finished: the two readers worked at the same time.
    expect(stderr.indexOf('bo: enrolling')).toBeLessThan(stderr.indexOf('ana: enrolled'));
    cards.splice(cards.indexOf(ana), 1);
    expect(await ana.stop()).toBe(0);
    cards.push(await serveCard({ serial: 1003 }));
    expect(await exited, stderr).toBe(0);

    const report = JSON.parse(stdout);
    expect(report.people.map((p: { user: string; status: string; cardSerial: number }) => [p.user, p.status, p.cardSerial])).toEqual([
      ['ana', 'enrolled', 1001], ['bo', 'enrolled', 1002], ['cy', 'enrolled', 1003],
    ]);
    expect(report.people.map((p: { reader: string }) => p.reader)).toEqual([READER, SECOND_READER, READER]);
    expect(report.people[0].hosts).toEqual({ present: 1, failed: 0 });
    expect(readFileSync(host.user.authorizedKeys, 'utf8')).toContain(readFileSync(join(dir, 'out', 'ana', 'piv-9c.pub'), 'utf8').split(' ')[1]);
    const listed = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json'])).stdout);
    const people = listed.map((e: { person: string; cardSerial: number }) => [e.person, e.cardSerial]).sort((x: [string, number], y: [string, number]) => x[0].localeCompare(y[0]));
    expect(people).toEqual([['ana', 1001], ['bo', 1002], ['cy', 1003]]);
  });

  test('on a terminal: asks for each person\'s card in turn, refuses a card that is someone else\'s', async () => {
    const dir = scratchDir();
    const manifest = join(dir, 'intake.yaml');
    writeFileSync(manifest, '- user: dee\n  algorithm: ECCP256\n- user: eli\n  algorithm: ECCP256\n  card-serial: 4002\n');
    const said: string[] = [];
    let swapped = false;
    const prompter = {
      say: (text: string) => said.push(text),
      input: async () => '',
      password: async () => '',
      // Between people the batch asks to go on: the next card goes into the other reader; dee's stays where it is.
      confirm: async () => {
        cards.push(await serveCard({ serial: 4002, port: 35966 }));
        swapped = true;
        return true;
      },
    };
    cards.push(await serveCard({ serial: 4001 }));
    const outputs: string[] = [];
    const notices: string[] = [];
    const code = await runBatchCommand(
      { manifest, inventory: join(dir, 'inventory.sqlite'), json: true, pkcs11: 'none' },
      { result: (t) => outputs.push(t), notice: (t) => notices.push(t), error: (t) => notices.push(t) },
      { env: ENV, interactive: true, prompter, pollMs: 100 },
    );
    expect(code, notices.join('\n')).toBe(0);
    expect(swapped).toBe(true);
    expect(said).toEqual(['(1/2) Insert the card for dee.', '(2/2) Insert the card for eli (serial 4002).']);
    expect(notices).toContain("card 4001 is not eli's: swap it");
    expect(JSON.parse(outputs[0]!).people.map((p: { user: string; cardSerial: number; status: string }) => [p.user, p.cardSerial, p.status])).toEqual([['dee', 4001, 'enrolled'], ['eli', 4002, 'enrolled']]);
  });

  test('Ctrl-C: the running enrollment finishes, nothing new starts, the report says who is left', async () => {
    const dir = scratchDir();
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm\nana,8001,ECCP256\nbo,8002,ECCP256\n');
    cards.push(await serveCard({ serial: 8001 }));
    const child = spawn(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', join(dir, 'inventory.sqlite'), '--yes', '--json', '--wait', '5m', '--pkcs11', 'none'],
      { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => /ana: enrolling/.test(stderr), 'ana\'s enrollment to start');
    child.kill('SIGINT'); // in the middle of ana's enrollment
    expect(await exited, stderr).toBe(130); // stopped by Ctrl-C: cancelled, after the report
    expect(stderr).toMatch(/stopping: running enrollments finish first/);
    expect(stderr).toMatch(/piv-enroll: cancelled: enrolled: ana; not done: bo/);
    expect(JSON.parse(stdout).people.map((p: { user: string; status: string }) => [p.user, p.status])).toEqual([['ana', 'enrolled'], ['bo', 'stopped']]);
  });

  test('an interrupted batch resumes: nobody is enrolled twice; a card enrolled elsewhere is not overwritten without --force', async () => {
    const dir = scratchDir();
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm\nana,2001,ECCP256\nbo,2002,ECCP256\ncy,2003,ECCP256\n');
    const inventory = join(dir, 'inventory.sqlite');
    const batch = () => run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', inventory, '--yes', '--json', '--wait', '3s', '--pkcs11', 'none'], { env: ENV, timeoutMs: 120_000 });

    const ana = await serveCard({ serial: 2001 });
    cards.push(ana);
    const first = await batch();
    expect(first.code).toBe(1);
    expect(JSON.parse(first.stdout).people.map((p: { status: string }) => p.status)).toEqual(['enrolled', 'not-inserted', 'not-inserted']);

    // Bo's card arrives; Cy's card was enrolled by someone else (no inventory record): refused, not overwritten.
    cards.push(await serveCard({ serial: 2002, port: 35966 }));
    const second = await batch();
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout).people.map((p: { status: string }) => p.status)).toEqual(['already-enrolled', 'enrolled', 'not-inserted']);
    const anaState = readFileSync(ana.state, 'utf8');

    cards.splice(cards.indexOf(ana), 1);
    expect(await ana.stop()).toBe(0);
    const cy = await serveCard({ serial: 2003 });
    cards.push(cy);
    await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'someone-else', '--algorithm', 'ECCP256', '--pkcs11', 'none', '--yes', '--inventory', 'none'], { env: ENV });
    const third = await batch();
    expect(third.code).toBe(1);
    const cyReport = JSON.parse(third.stdout).people[2];
    expect(cyReport.status).toBe('failed');
    expect(cyReport.error).toMatch(/slot 9C already holds .* CN=someone-else: give --force/);
    expect(readFileSync(ana.state, 'utf8')).toBe(anaState); // ana's card, removed, untouched by the reruns
    rmSync(dir, { recursive: true, force: true });
  });
});
