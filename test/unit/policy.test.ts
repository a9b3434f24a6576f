import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { subjectFromTemplate } from '../../src/operations/distinguished-name.js';
import { parsePolicy, PolicyFileError } from '../../src/operations/policy/load.js';
import { resolvePolicy } from '../../src/operations/policy/resolve.js';
import { EMPTY_POLICY, evaluatePolicy, policyProblems } from '../../src/operations/policy/rules.js';
import type { PolicyFacts, SitePolicy } from '../../src/operations/policy/types.js';

const ISSUE_EXAMPLE = [
  'require:', //                                                    1
  '  key-origin: generated          # generated | imported | any', // 2
  '  pin-policy: [once, always]', //                                3
  '  touch-policy: [always, cached]', //                            4
  '  algorithms: [RSA2048, ECCP256, ECCP384]', //                   5
  '  min-firmware: 5.4.3', //                                       6
  '  fips: false', //                                               7
  'defaults: { ca: /srv/piv-ca, inventory: "postgres://enroll@db/piv", valid-days: 365, subject: "CN={user},O=Example" }', // 8
  'host-groups: { web: [deploy@web1, deploy@web2], db: [deploy@db1] }', // 9
].join('\n');

function errorsOf(text: string): string[] {
  try {
    parsePolicy(text, 'site.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyFileError);
    return (error as Error).message.split('\n');
  }
  throw new Error('the policy was accepted');
}

describe('policy loader', () => {
  it('reads the issue\'s example', () => {
    const policy = parsePolicy(ISSUE_EXAMPLE, 'site.yaml');
    expect(policy.require).toEqual({ keyOrigin: 'generated', pinPolicies: ['once', 'always'], touchPolicies: ['always', 'cached'], algorithms: ['RSA2048', 'ECCP256', 'ECCP384'], minFirmware: '5.4.3', fips: false });
    expect(policy.defaults).toEqual({ ca: '/srv/piv-ca', inventory: 'postgres://enroll@db/piv', validDays: 365, subject: 'CN={user},O=Example' });
    expect(policy.hostGroups).toEqual({ web: ['deploy@web1', 'deploy@web2'], db: ['deploy@db1'] });
    expect(policy.allowKnownWeak).toEqual([]);
  });

  it('an empty file requires nothing', () => {
    expect(parsePolicy('', 'e.yaml')).toEqual({ ...EMPTY_POLICY, file: 'e.yaml' });
  });

  it.each([
    ['an unknown top-level key', 'require: {}\nallow-weak: [roca]\n', 'site.yaml:2:1: unknown key "allow-weak" in the policy'],
    ['an unknown require key', 'require:\n  key-orign: generated\n', 'site.yaml:2:3: unknown key "key-orign" in require'],
    ['a bad key origin', 'require:\n  key-origin: on-card\n', 'site.yaml:2:15: key-origin "on-card" is not one of generated, imported, any'],
    ['a bad algorithm name', 'require:\n  algorithms: [RSA2048, RSA1536]\n', 'site.yaml:2:25: algorithm "RSA1536" is not one of'],
    ['X25519 (cannot sign)', 'require:\n  algorithms: X25519\n', 'site.yaml:2:15: algorithm "X25519" is not one of'],
    ['a bad PIN policy', 'require:\n  pin-policy: [once, sometimes]\n', 'site.yaml:2:22: pin-policy "sometimes" is not one of never, once, always'],
    ['a bad touch policy', 'require:\n  touch-policy:\n    - always\n    - rarely\n', 'site.yaml:4:7: touch-policy "rarely" is not one of never, always, cached'],
    ['a bad firmware string', 'require:\n  min-firmware: 5.4\n', 'site.yaml:2:17: min-firmware "5.4" is not a firmware version like 5.4.3'],
    ['fips as a string', 'require:\n  fips: "no"\n', 'site.yaml:2:9: fips must be true or false'],
    ['require as a list', 'require: [fips]\n', 'site.yaml:1:10: require must be a map'],
    ['an unknown known-weak rule', 'allow-known-weak: [roca, eucleak]\n', 'site.yaml:1:26: allow-known-weak rule "eucleak" is not one of roca, ysa-2024-03'],
    ['a bad form factor', 'require:\n  form-factors: [usb-a-nano, usb-d]\n', 'site.yaml:2:30: form factor "usb-d" is not one of'],
    ['valid-days not a number', 'defaults:\n  valid-days: a year\n', 'site.yaml:2:15: valid-days must be a whole number of days'],
    ['a bad subject template', 'defaults:\n  subject: "no equals"\n', 'site.yaml:2:12: subject "no equals"'],
    ['a host starting with -', 'host-groups:\n  web: [ok@web1, "-oProxyCommand=x"]\n', 'site.yaml:2:18: host group web: "-oProxyCommand=x" is not [user@]host[:port]'],
    ['a host group that is not a list', 'host-groups:\n  web: web1\n', 'site.yaml:2:8: host group web must be a list'],
    ['a YAML syntax error', 'require:\n  algorithms: [RSA2048\n', 'site.yaml:3:1: not valid YAML'],
    ['a duplicate key', 'require:\n  fips: true\n  fips: false\n', 'site.yaml:3:3: not valid YAML'],
  ])('%s: FILE:LINE:COL', (_name, text, expected) => {
    const errors = errorsOf(text);
    expect(errors.some((e) => e.startsWith(expected)), errors.join('\n')).toBe(true);
  });

  it('reports every problem at once', () => {
    const errors = errorsOf('require:\n  key-origin: chip\n  min-firmware: x\nbogus: 1\n');
    expect(errors.map((e) => e.split(': ')[0])).toEqual(['site.yaml:2:15', 'site.yaml:3:17', 'site.yaml:4:1']);
  });

  it('the subject template escapes the user name', () => {
    expect(subjectFromTemplate('CN={user},O=Example', 'Lima, Ana')).toBe('CN=Lima\\, Ana,O=Example');
  });

  it('resolves --policy, then PIV_ENROLL_POLICY (none disables), then the default file when present', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    writeFileSync(a, 'require: { fips: true }\n');
    writeFileSync(b, 'require: { fips: false }\n');
    expect((await resolvePolicy(a, { PIV_ENROLL_POLICY: b }, b))?.file).toBe(a);
    expect((await resolvePolicy(undefined, { PIV_ENROLL_POLICY: a }, b))?.file).toBe(a);
    expect(await resolvePolicy(undefined, { PIV_ENROLL_POLICY: 'none' }, b)).toBeUndefined();
    expect((await resolvePolicy(undefined, {}, b))?.file).toBe(b);
    expect(await resolvePolicy(undefined, {}, join(dir, 'absent.yaml'))).toBeUndefined();
    await expect(resolvePolicy(join(dir, 'absent.yaml'), {}, b)).rejects.toThrow(/cannot read the policy file/);
  });
});

const policy = (text: string): SitePolicy => parsePolicy(text, 'p.yaml');
const facts = (over: Partial<PolicyFacts>): PolicyFacts => ({ keyOrigin: 'generated', algorithm: 'RSA2048', pinPolicy: 'once', touchPolicy: 'always', firmware: '5.7.2', formFactor: 'usb-a-keychain', fips: false, ...over });
const problems = (p: SitePolicy, f: PolicyFacts) => evaluatePolicy(p, f).filter((r) => r.status === 'problem').map((r) => r.rule);

describe('policy rules', () => {
  const site = policy(ISSUE_EXAMPLE);

  it('a key that meets the issue\'s example passes every rule, each listed', () => {
    const results = evaluatePolicy(site, facts({}));
    expect(results.map((r) => r.rule)).toEqual(['key-origin', 'algorithms', 'pin-policy', 'touch-policy', 'min-firmware', 'roca', 'ysa-2024-03']);
    expect(results.every((r) => r.status === 'ok')).toBe(true);
  });

  it.each([
    ['an imported key', { keyOrigin: 'imported' }, 'key-origin'],
    ['an algorithm not listed', { algorithm: 'RSA4096' }, 'algorithms'],
    ['PIN policy never', { pinPolicy: 'never' }, 'pin-policy'],
    ['touch policy never', { touchPolicy: 'never' }, 'touch-policy'],
    ['old firmware', { firmware: '5.4.2', algorithm: 'RSA2048' }, 'min-firmware'],
    ['an unknown origin', { keyOrigin: undefined }, 'key-origin'],
  ] as Array<[string, Partial<PolicyFacts>, string]>)('%s breaks %s', (_name, over, rule) => {
    expect(problems(site, facts(over))).toEqual([rule]);
  });

  it('form factors and FIPS', () => {
    const p = policy('require:\n  form-factors: [usb-c-nano]\n  fips: true\n');
    expect(problems(p, facts({}))).toEqual(['form-factors', 'fips']);
    expect(problems(p, facts({ formFactor: 'usb-c-nano', fips: true }))).toEqual([]);
    expect(problems(p, facts({ formFactor: undefined, fips: undefined }))).toEqual(['form-factors', 'fips']);
    expect(problems(policy('require: { fips: false }'), facts({ fips: false }))).toEqual([]);
  });

  it('max-valid-days', () => {
    expect(problems(policy('require: { max-valid-days: 90 }'), facts({ validDays: 365 }))).toEqual(['max-valid-days']);
    expect(problems(policy('require: { max-valid-days: 90 }'), facts({ validDays: 90 }))).toEqual([]);
  });

  describe('roca (YSA-2017-01): on-card RSA generation on firmware 4.2.0–4.3.4', () => {
    it.each(['4.2.0', '4.2.6', '4.3.0', '4.3.4'])('fires on %s', (firmware) => {
      expect(problems(EMPTY_POLICY, facts({ firmware, algorithm: 'RSA2048', keyOrigin: 'generated' }))).toEqual(['roca']);
    });
    it.each([
      ['4.1.9', 'RSA2048', 'generated'], ['4.3.5', 'RSA2048', 'generated'], ['4.3.7', 'RSA2048', 'generated'],
      ['4.3.4', 'RSA2048', 'imported'], ['4.3.4', 'ECCP256', 'generated'],
    ])('not on %s %s %s', (firmware, algorithm, keyOrigin) => {
      expect(problems(EMPTY_POLICY, facts({ firmware, algorithm, keyOrigin: keyOrigin as 'generated' }))).not.toContain('roca');
    });
    it('an RSA key of unknown origin on that firmware counts (it may have been generated there)', () => {
      expect(problems(EMPTY_POLICY, facts({ firmware: '4.3.3', keyOrigin: undefined }))).toEqual(['roca']);
    });
  });

  describe('ysa-2024-03 (EUCLEAK): ECDSA on firmware before 5.7.0', () => {
    it.each([['5.4.3', 'ECCP256'], ['5.6.9', 'ECCP384'], ['4.3.7', 'ECCP256']])('fires on %s %s, whatever the origin', (firmware, algorithm) => {
      expect(problems(EMPTY_POLICY, facts({ firmware, algorithm, keyOrigin: 'imported' }))).toEqual(['ysa-2024-03']);
    });
    it.each([['5.7.0', 'ECCP256'], ['5.4.3', 'RSA2048'], ['5.4.3', 'ED25519']])('not on %s %s', (firmware, algorithm) => {
      expect(problems(EMPTY_POLICY, facts({ firmware, algorithm }))).toEqual([]);
    });
  });

  it('each known-weak rule is overridden only by its own name', () => {
    const roca = facts({ firmware: '4.3.4', algorithm: 'RSA2048' });
    const eucleak = facts({ firmware: '5.4.3', algorithm: 'ECCP256' });
    const allowRoca = policy('allow-known-weak: [roca]');
    const allowYsa = policy('allow-known-weak: ysa-2024-03');
    expect(problems(allowRoca, roca)).toEqual([]);
    expect(problems(allowRoca, eucleak)).toEqual(['ysa-2024-03']);
    expect(problems(allowYsa, eucleak)).toEqual([]);
    expect(problems(allowYsa, roca)).toEqual(['roca']);
    expect(evaluatePolicy(allowRoca, roca).find((r) => r.rule === 'roca')?.message).toMatch(/allowed by the policy \(allow-known-weak: roca\)/);
  });

  it('problems are worded with their rule', () => {
    expect(policyProblems(evaluatePolicy(site, facts({ keyOrigin: 'imported' })))).toEqual([
      'policy rule key-origin: the policy requires keys generated on the card (key-origin: generated): an imported or host-made key is refused; use --key-source card',
    ]);
  });
});
