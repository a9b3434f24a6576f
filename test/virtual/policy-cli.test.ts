/**
 * The site policy (--policy FILE) while planning: what it forbids is refused before the card changes (the virtual
 * card's state file stays byte for byte what it was), each known-weak rule fires on a card of that firmware and is
 * overridden only by its name; doctor and status list each rule; the wizard offers the policy's host groups and CA.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { runEnroll } from '../../src/cli/commands/enroll.js';
import { run, runOk } from '../support/run.js';
import { captured, scriptedPrompter } from '../support/terminal.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const SECRETS = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };



describe('site policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-policy-'));
  const file = (name: string) => join(dir, name);
  const cards: Record<string, string> = { '5.7.2': file('card-57.json'), '5.4.3': file('card-54.json'), '4.3.4': file('card-434.json') };
  const policy = (name: string, text: string) => {
    writeFileSync(file(name), text);
    return file(name);
  };

  beforeAll(async () => {
    for (const [firmware, card] of Object.entries(cards)) await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--firmware', firmware]);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file('p256.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  });

  const enroll = (firmware: string, args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [CLI, 'enroll', '--virtual', cards[firmware]!, '--user', 'ana', '--yes', '--pkcs11', 'none', ...args], { cwd: dir, env: { ...SECRETS, ...env } });

  const refusals: Array<[string, string, string[], string]> = [
    ['key-origin generated refuses --import', 'require:\n  key-origin: generated\n', ['--import', 'p256.pem'], 'policy rule key-origin: the policy requires keys generated on the card'],
    ['key-origin generated refuses --key-source host', 'require:\n  key-origin: generated\n', ['--key-source', 'host', '--algorithm', 'ECCP256'], 'policy rule key-origin'],
    ['key-origin generated refuses the default (a host key)', 'require:\n  key-origin: generated\n', ['--algorithm', 'ECCP256'], 'policy rule key-origin'],
    ['a PIN policy not allowed (9c defaults to always)', 'require:\n  pin-policy: [once]\n', ['--algorithm', 'ECCP256'], 'policy rule pin-policy: PIN policy always is not allowed by the policy (pin-policy: once)'],
    ['a touch policy not allowed', 'require:\n  touch-policy: [always, cached]\n', ['--algorithm', 'ECCP256', '--touch-policy', 'never'], 'policy rule touch-policy: touch policy never is not allowed'],
    ['an algorithm not allowed', 'require:\n  algorithms: [ECCP384]\n', ['--algorithm', 'ECCP256'], 'policy rule algorithms: algorithm ECCP256 is not allowed'],
    ['firmware below the minimum', 'require:\n  min-firmware: 5.7.4\n', ['--algorithm', 'ECCP256'], 'policy rule min-firmware: firmware 5.7.2 is older'],
    ['a FIPS device required', 'require:\n  fips: true\n', ['--algorithm', 'ECCP256'], 'policy rule fips: the policy requires a FIPS device'],
    ['a form factor not allowed', 'require:\n  form-factors: [usb-c-nano]\n', ['--algorithm', 'ECCP256'], 'policy rule form-factors: form factor usb-a-keychain is not allowed'],
    ['a validity above the maximum', 'require:\n  max-valid-days: 90\n', ['--algorithm', 'ECCP256'], 'policy rule max-valid-days'],
    ['an unknown host group', 'host-groups: { web: [deploy@web1] }\n', ['--algorithm', 'ECCP256', '--deploy-to', '@db'], '@db: the policy'],
    ['a policy file with a schema error', 'require:\n  key-origin: on-chip\n', ['--algorithm', 'ECCP256'], ':2:15: key-origin "on-chip" is not one of generated, imported, any'],
  ];

  test.each(refusals)('%s, before any write', async (name, text, args, message) => {
    const before = readFileSync(cards['5.7.2']!);
    const result = await enroll('5.7.2', ['--policy', policy(`${name.replace(/\W+/g, '-')}.yaml`, text), ...args]);
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(readFileSync(cards['5.7.2']!).equals(before), 'the card state file changed').toBe(true);
  });

  test('a policy named by PIV_ENROLL_POLICY counts like --policy, and --policy none turns it off', async () => {
    const before = readFileSync(cards['5.7.2']!);
    const strict = policy('env.yaml', 'require: { key-origin: generated }\n');
    const refused = await enroll('5.7.2', ['--algorithm', 'ECCP256'], { PIV_ENROLL_POLICY: strict });
    expect(refused.stderr).toContain('policy rule key-origin');
    expect(readFileSync(cards['5.7.2']!).equals(before)).toBe(true);
    const missing = await enroll('5.7.2', ['--algorithm', 'ECCP256'], { PIV_ENROLL_POLICY: file('absent.yaml') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the policy file');
    expect(readFileSync(cards['5.7.2']!).equals(before)).toBe(true);
  });

  test('roca fires on firmware 4.3.4 with an RSA key generated on the card, with or without a policy; allowed by name it is no longer the policy\'s objection', async () => {
    const before = readFileSync(cards['4.3.4']!);
    const bare = await enroll('4.3.4', ['--key-source', 'card']);
    expect(bare.stderr).toContain('policy rule roca: firmware 4.3.4 with an RSA key generated on the card has the ROCA weakness (Yubico YSA-2017-01');
    const allowOther = await enroll('4.3.4', ['--key-source', 'card', '--policy', policy('allow-ysa.yaml', 'allow-known-weak: [ysa-2024-03]\n')]);
    expect(allowOther.stderr).toContain('policy rule roca');
    const allowRoca = await enroll('4.3.4', ['--key-source', 'card', '--policy', policy('allow-roca.yaml', 'allow-known-weak: [roca]\n')]);
    expect(allowRoca.code).not.toBe(0);
    expect(allowRoca.stderr).not.toContain('policy rule roca');
    // The PIV layer still never asks these firmwares for an RSA key (as yubikit refuses it).
    expect(allowRoca.stderr).toContain('must not generate RSA keys (ROCA, CVE-2017-15361), whatever the policy allows');
    expect(readFileSync(cards['4.3.4']!).equals(before), 'the card state file changed').toBe(true);
  });

  test('ysa-2024-03 fires on firmware 5.4.3 with an ECCP256 card key under a policy, is only a warning without one, and allowed by name enrolls', async () => {
    const before = readFileSync(cards['5.4.3']!);
    const site = policy('site-54.yaml', 'require:\n  key-origin: generated\n');
    const refused = await enroll('5.4.3', ['--key-source', 'card', '--algorithm', 'ECCP256', '--policy', site]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('policy rule ysa-2024-03: ECDSA (ECCP256) on firmware 5.4.3 is open to key recovery by someone holding the card (Yubico YSA-2024-03');
    const allowOther = await enroll('5.4.3', ['--key-source', 'card', '--algorithm', 'ECCP256', '--policy', policy('allow-roca-54.yaml', 'require:\n  key-origin: generated\nallow-known-weak: [roca]\n')]);
    expect(allowOther.stderr).toContain('policy rule ysa-2024-03');
    expect(readFileSync(cards['5.4.3']!).equals(before), 'the card state file changed').toBe(true);

    const allowed = await enroll('5.4.3', ['--key-source', 'card', '--algorithm', 'ECCP256', '--json', '--policy', policy('allow-ysa-54.yaml', 'require:\n  key-origin: generated\nallow-known-weak: [ysa-2024-03]\n')]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/Site policy .*allow-ysa-54.yaml: met \(key-origin, roca, ysa-2024-03\)/);
    expect(readFileSync(cards['5.4.3']!).equals(before)).toBe(false);

    const bare = await enroll('5.4.3', ['--key-source', 'card', '--algorithm', 'ECCP256', '--force', '--pin-policy', 'once'], { PIV_PIN: SECRETS.PIV_NEW_PIN });
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stderr).toContain('! policy rule ysa-2024-03');
  });

  test('status and doctor list each rule, ok or problem (text and --json)', async () => {
    const card = file('judged.json');
    await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--firmware', '5.4.3']);
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'bo', '--yes', '--pkcs11', 'none', '--algorithm', 'ECCP256', '--touch-policy', 'always'], { env: SECRETS });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const site = policy('judge.yaml', 'require:\n  key-origin: generated\n  touch-policy: [always]\n  fips: true\n');
    const status = JSON.parse((await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--json', '--policy', site])).stdout);
    expect(status.policy.status).toBe('problem');
    const rules = (results: Array<{ rule: string; status: string }>) => Object.fromEntries(results.map((r) => [r.rule, r.status]));
    expect(status.policy.slots.map((s: { slot: string }) => s.slot)).toEqual(['9C']);
    expect(rules(status.policy.slots[0].results)).toEqual({ 'key-origin': 'problem', 'touch-policy': 'ok', fips: 'problem', roca: 'ok', 'ysa-2024-03': 'problem' });
    const text = (await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--policy', site])).stdout;
    expect(text).toContain('Site policy');
    expect(text).toMatch(/PROBLEM key-origin: the policy requires keys generated on the card/);
    expect(text).toMatch(/ok {6}touch-policy: touch policy always allowed/);

    const doctor = await run(process.execPath, [CLI, 'doctor', '--virtual', card, '--json', '--policy', site], { env: { PIV_PIN: SECRETS.PIV_NEW_PIN } });
    expect(doctor.code, doctor.stderr).toBe(1);
    const report = JSON.parse(doctor.stdout);
    const policyFindings = report.findings.filter((f: { area: string }) => f.area === 'policy');
    expect(Object.fromEntries(policyFindings.map((f: { id: string; severity: string }) => [f.id, f.severity]))).toEqual({
      'policy-key-origin': 'problem', 'policy-touch-policy': 'ok', 'policy-fips': 'problem', 'policy-roca': 'ok', 'policy-ysa-2024-03': 'problem',
    });
    const doctorText = await run(process.execPath, [CLI, 'doctor', '--virtual', card, '--policy', policy('lenient.yaml', 'allow-known-weak: [ysa-2024-03]\n')], { env: { PIV_PIN: SECRETS.PIV_NEW_PIN } });
    expect(doctorText.code, doctorText.stdout + doctorText.stderr).toBe(0);
    expect(doctorText.stdout).toMatch(/Site policy .*lenient.yaml\n {2}ok {3}roca: not affected/);
    expect(doctorText.stdout).toContain('allowed by the policy (allow-known-weak: ysa-2024-03)');
  });

  test('the policy\'s defaults: subject template and validity where no flag says otherwise (flags win)', async () => {
    const site = policy('defaults.yaml', 'defaults:\n  subject: "CN={user},O=Example"\n  valid-days: 30\n');
    const card = file('defaults.json');
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'Lima, Ana', '--yes', '--pkcs11', 'none', '--algorithm', 'ECCP256', '--out', file('out-defaults'), '--policy', site], { env: SECRETS });
    expect(result.code, result.stderr).toBe(0);
    const certificate = new X509Certificate(readFileSync(file('out-defaults/piv-9c-cert.pem')));
    // RFC 4514 writes the most specific name first; X509Certificate prints in DER order.
    expect(certificate.subject).toBe('O=Example\nCN=Lima\\, Ana');
    expect((Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000).toBeCloseTo(30, 0);
    const flagged = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--subject', 'CN=other', '--valid-days', '10', '--force', '--yes', '--pkcs11', 'none', '--algorithm', 'ECCP256', '--out', file('out-flags'), '--policy', site], { env: { PIV_PIN: SECRETS.PIV_NEW_PIN } });
    expect(flagged.code, flagged.stderr).toBe(0);
    const second = new X509Certificate(readFileSync(file('out-flags/piv-9c-cert.pem')));
    expect(second.subject).toBe('CN=other');
    expect((Date.parse(second.validTo) - Date.parse(second.validFrom)) / 86_400_000).toBeCloseTo(10, 0);
  });

  test('wizard: with a policy, the deploy step offers its host groups (and none) and its CA', async () => {
    const site = policy('wizard.yaml', 'defaults:\n  ca: /nonexistent/site-ca\nhost-groups:\n  web: [deploy@127.0.0.1:1]\n  db: [deploy@db1]\n');
    const prompter = scriptedPrompter(['staging', 'none', false, 'ana', true, '24681357', '24681357', '97531864', '97531864', true]);
    const output = captured();
    expect(await runEnroll({ virtual: file('wizard.json'), algorithm: 'ECCP256', pkcs11: 'none', policy: site, inventory: 'none' }, output, { env: { PIV_ENROLL_POLICY: 'none' }, interactive: true, prompter })).toBe(0);
    expect(prompter.asked.slice(0, 5)).toEqual([
      '(said) Host groups of the site policy: web (deploy@127.0.0.1:1); db (deploy@db1).',
      'Deploy the key to which host group (web, db, none)?',
      '(said) "staging" is not one of web, db, none; try again.',
      'Deploy the key to which host group (web, db, none)?',
      'Have the site\'s SSH CA (/nonexistent/site-ca) certify the key?',
    ]);
    // Chosen, the group is where the key goes (this host refuses connections: the enrollment reports it unreached).
    const deploy = scriptedPrompter(['web', false, true]);
    const deployed = captured();
    expect(await runEnroll({ virtual: file('wizard.json'), user: 'ana', algorithm: 'ECCP256', pkcs11: 'none', force: true, policy: site, inventory: 'none' }, deployed, { env: { PIV_PIN: '24681357' }, interactive: true, prompter: deploy })).toBe(1);
    expect(deployed.err.join('\n')).toContain('the key did not reach deploy@127.0.0.1:1');
    // Accepted, the policy's CA is used: here it does not exist, so the enrollment stops before the card changes.
    const before = readFileSync(file('wizard.json'));
    const withCa = scriptedPrompter(['none', true]);
    await expect(runEnroll({ virtual: file('wizard.json'), user: 'ana', algorithm: 'ECCP256', pkcs11: 'none', force: true, policy: site, inventory: 'none' }, captured(), { env: { PIV_PIN: '24681357' }, interactive: true, prompter: withCa })).rejects.toThrow(/site-ca/);
    expect(readFileSync(file('wizard.json')).equals(before)).toBe(true);
  });

  test('batch: each person the policy refuses is named with its manifest line, before any card is touched', async () => {
    const manifest = file('intake.yaml');
    writeFileSync(manifest, 'people:\n  - user: ana\n    key-source: card\n    card-serial: 1\n  - user: bo\n    key-source: host\n    touch-policy: never\n    card-serial: 2\n');
    const site = policy('batch.yaml', 'require:\n  key-origin: generated\n  touch-policy: [always]\n');
    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', file('batch.sqlite'), '--policy', site], { env: SECRETS });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${manifest}:2: ana: policy rule touch-policy: touch policy never is not allowed`);
    expect(result.stderr).toContain(`${manifest}:5: bo: policy rule key-origin`);
    expect(result.stderr).toContain(`${manifest}:5: bo: policy rule touch-policy`);
    expect(result.stderr).not.toContain('ana: policy rule key-origin');
  });

  test('batch: @GROUP in a manifest\'s hosts is the policy\'s host group; an unknown one is refused with FILE:LINE before any card', async () => {
    const manifest = file('groups.yaml');
    writeFileSync(manifest, 'people:\n  - user: ana\n    hosts: ["@web"]\n    card-serial: 1\n  - user: bo\n    hosts:\n      - "@mail"\n    card-serial: 2\n');
    const site = policy('groups-policy.yaml', 'host-groups:\n  web: [deploy@web1]\n  db: [deploy@db1]\n');
    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', file('groups.sqlite'), '--policy', site], { env: SECRETS });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${manifest}:7: hosts: @mail: the policy ${site} has no host group "mail" (it has @web, @db)`);
    expect(result.stderr).not.toMatch(/@web:/);
    const without = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', file('groups.sqlite'), '--policy', 'none'], { env: SECRETS });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain(`${manifest}:3: hosts: @web: host groups come from a site policy (--policy FILE), and none is in effect`);
  });
});
