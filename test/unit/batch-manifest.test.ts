import { describe, expect, it } from 'vitest';
import { parseManifest, type ManifestEntry } from '../../src/operations/batch/manifest.js';
import { EMPTY_POLICY } from '../../src/operations/policy/rules.js';
import type { SitePolicy } from '../../src/operations/policy/types.js';

const ALGORITHMS = 'RSA1024, RSA2048, RSA3072, RSA4096, ECCP256, ECCP384, ED25519';
const KEYS = 'user, subject, principals, hosts, ca, slot, algorithm, pin-policy, touch-policy, key-source, valid-days, card-serial';
const HOST_DASH = 'is not [user@]host[:port]: a host must not start with "-"';

const withoutLines = (entries: ManifestEntry[]) => entries.map(({ line: _line, ...rest }) => rest);

describe('batch manifest: the same people from YAML and CSV', () => {
  const yaml = [
    '# wave 3', //                                                          1
    'people:', //                                                           2
    '  - user: ana', //                                                     3
    "    subject: 'CN=Ana Lima,O=Example\\, Inc.'", //                      4
    '    principals: [ana, deploy]', //                                     5
    '    hosts:', //                                                        6
    '      - ana@web-1.example.org', //                                     7
    '      - db-1:2222', //                                                 8
    '    ca: /srv/ssh-ca', //                                               9
    '    slot: 9A', //                                                      10
    '    algorithm: p256', //                                               11
    '    pin-policy: once', //                                              12
    '    touch-policy: CACHED', //                                          13
    '    key-source: card', //                                              14
    '    valid-days: 90', //                                                15
    '    card-serial: 12345678', //                                         16
    '', //                                                                  17
    '  - user: bob', //                                                     18
    '    hosts: web-1 web-2, [2001:db8::1]:22, web-1', //                   19
    '    principals: bob, admins', //                                       20
    '    pinPolicy: match-always', //                                       21
    '    validDays: 007', //                                                22
    '  - user: cy', //                                                      23
    '    ca:', //                                                           24
  ].join('\n');
  const csv = [
    'user,subject,principals,hosts,ca,slot,algorithm,pin-policy,touch-policy,keySource,valid-days,card-serial',
    '# wave 3',
    'ana,"CN=Ana Lima,O=Example\\, Inc.",ana;deploy,ana@web-1.example.org db-1:2222,/srv/ssh-ca,9A,p256,once,CACHED,card,90,12345678',
    '',
    'bob,, bob  admins ,web-1;web-2;[2001:db8::1]:22 web-1,,,,match-always,,,007,',
    'cy,,,,,,,,,,,',
    '',
  ].join('\n');

  const expected: Array<Omit<ManifestEntry, 'line'>> = [
    {
      user: 'ana',
      subject: 'CN=Ana Lima,O=Example\\, Inc.',
      principals: ['ana', 'deploy'],
      hosts: ['ana@web-1.example.org', 'db-1:2222'],
      ca: '/srv/ssh-ca',
      slot: '9a',
      algorithm: 'ECCP256',
      pinPolicy: 'once',
      touchPolicy: 'cached',
      keySource: 'card',
      validDays: 90,
      cardSerial: 12345678,
    },
    { user: 'bob', principals: ['bob', 'admins'], hosts: ['web-1', 'web-2', '[2001:db8::1]:22'], slot: '9c', algorithm: 'RSA2048', pinPolicy: 'match-always', validDays: 7 },
    { user: 'cy', hosts: [], slot: '9c', algorithm: 'RSA2048' },
  ];

  it('reads the YAML, applying the defaults (slot 9c, RSA2048, no hosts)', () => {
    const parsed = parseManifest(yaml, 'wave3.yaml');
    expect(parsed.errors).toEqual([]);
    expect(withoutLines(parsed.entries)).toStrictEqual(expected);
    expect(parsed.entries.map((e) => e.line)).toEqual([3, 18, 23]);
  });

  it('reads the CSV into exactly the same entries, each with its own line', () => {
    const parsed = parseManifest(csv, 'wave3.csv');
    expect(parsed.errors).toEqual([]);
    expect(withoutLines(parsed.entries)).toStrictEqual(expected);
    expect(parsed.entries.map((e) => e.line)).toEqual([3, 5, 6]);
    expect(parsed).toStrictEqual(parseManifest(csv.replace(/\n/g, '\r\n'), 'wave3.csv'));
  });

  it('accepts a bare top-level list as well as people:, and keeps YAML values as written', () => {
    const parsed = parseManifest('- user: ana\n- {user: bob, slot: key-management}\n- {user: 007, ca: 1e3}\n- user: ~\n', 'm.yml');
    expect(parsed).toStrictEqual({
      entries: [
        { line: 1, user: 'ana', hosts: [], slot: '9c', algorithm: 'RSA2048' },
        { line: 2, user: 'bob', hosts: [], slot: '9d', algorithm: 'RSA2048' },
        { line: 3, user: '007', hosts: [], ca: '1e3', slot: '9c', algorithm: 'RSA2048' },
      ],
      errors: ['m.yml:4: user is missing: each person needs a user name'],
    });
  });

  it('without a telling extension, sniffs the format from the first line that is not a comment', () => {
    expect(parseManifest('# people\nuser,hosts\nana,web-1\n', 'people.txt')).toStrictEqual({
      entries: [{ line: 3, user: 'ana', hosts: ['web-1'], slot: '9c', algorithm: 'RSA2048' }],
      errors: [],
    });
    expect(parseManifest('people:\n  - user: ana\n', 'people')).toStrictEqual({
      entries: [{ line: 2, user: 'ana', hosts: [], slot: '9c', algorithm: 'RSA2048' }],
      errors: [],
    });
    expect(parseManifest('\nana web-1\n', 'people.txt')).toStrictEqual({
      entries: [],
      errors: ['people.txt:2: cannot tell whether the manifest is YAML or CSV: name the file .yaml or .csv (a CSV starts with a header row such as "user,hosts")'],
    });
  });
});

describe('batch manifest: every problem at once, on its own line', () => {
  it('reports all the problems of a YAML manifest with their lines, and keeps only the valid people', () => {
    const yaml = [
      'people:', //                           1
      '  - user: ana', //                     2
      '    algorithm: RSA9999', //            3
      '    slot: 9f', //                      4
      '  - user: bob', //                     5
      '    hosts:', //                        6
      '      - good-host', //                 7
      '      - -oProxyCommand=x', //          8
      '    colour: blue', //                  9
      '  - user: "ana"', //                   10
      '    valid-days: 0', //                 11
      '    card-serial: 42', //               12
      '  - subject: CN', //                   13
      '    card-serial: 42', //               14
      '    pin-policy: sometimes', //         15
      '    keySource: import', //             16
      '  - user: dan', //                     17
      '    touch-policy:', //                 18
      '    touchPolicy: always', //           19
      '  - just a string', //                 20
      '  - user: [eve, fay]', //              21
      '    algorithm: X25519', //             22
      '  - user: gus', //                     23
      '    card-serial: 4294967296', //       24
      '    principals: []', //                25
      '  - user: hal', //                     26
    ].join('\n');
    const parsed = parseManifest(yaml, 'ana.yaml');
    expect(parsed.errors).toEqual([
      `ana.yaml:3: algorithm "RSA9999" is not one of ${ALGORITHMS}`,
      'ana.yaml:4: slot "9f" is not one of 9a, 9c, 9d, 9e, 82–95 (or authentication, signature, key-management, card-authentication)',
      `ana.yaml:8: hosts: "-oProxyCommand=x" ${HOST_DASH}`,
      `ana.yaml:9: unknown key "colour": the keys are ${KEYS}`,
      'ana.yaml:10: user "ana" also on line 2',
      'ana.yaml:11: valid-days "0" is not a whole number of days from 1 to 36500',
      'ana.yaml:13: user is missing: each person needs a user name',
      'ana.yaml:13: subject "CN" is not usable: "CN" in the subject is not TYPE=value (RFC 4514, e.g. CN=gofish543,O=Example)',
      'ana.yaml:14: card-serial 42 also on line 12',
      'ana.yaml:15: pin-policy "sometimes" is not one of default, never, once, always, match-once, match-always',
      'ana.yaml:16: key-source "import" is not one of host, card',
      'ana.yaml:19: touch-policy is given twice (also on line 18)',
      'ana.yaml:20: each person is a mapping of keys such as "- user: ana", not a single value or a list',
      'ana.yaml:21: user takes a single value, not a list',
      `ana.yaml:22: algorithm "X25519" only agrees keys and cannot sign an SSH login: use one of ${ALGORITHMS}`,
      'ana.yaml:24: card-serial "4294967296" is not a whole number from 1 to 4294967295',
      'ana.yaml:25: principals is empty: give the user names the certificate is valid for',
    ]);
    // dan's only problem is the repeated key: the entries are the people with no problem of their own.
    expect(parsed.entries.map((e) => [e.line, e.user])).toEqual([[26, 'hal']]);
  });

  it('reports all the problems of a CSV manifest, counting lines inside quoted cells', () => {
    const csv = [
      'user,subject,hosts,colour,valid-days,user', // 1
      '# wave 3', //                                   2
      'ana,"CN=Ana,', //                               3
      'O=Example",web-1,,30', //                       4
      '', //                                           5
      'bob,CN=Bob,-oProxyCommand=x;web-2,,400000', //  6
      '"c', //                                         7
      'y",,,red,', //                                  8
      'ana,,,,,,extra', //                             9
      ',,,,,', //                                      10
      'dan,,"a,b",,', //                               11
    ].join('\n');
    const parsed = parseManifest(csv, 'wave3.csv');
    expect(parsed.errors).toEqual([
      `wave3.csv:1: unknown column "colour": the header row names columns from ${KEYS}`,
      'wave3.csv:1: column user appears twice in the header row',
      `wave3.csv:6: hosts: "-oProxyCommand=x" ${HOST_DASH}`,
      'wave3.csv:6: valid-days "400000" is not a whole number of days from 1 to 36500',
      'wave3.csv:7: user "c\\ny" must not contain spaces or control characters',
      'wave3.csv:9: cell 7 ("extra") is past the last column of the header row (6 columns)',
      'wave3.csv:9: user "ana" also on line 3',
      'wave3.csv:11: hosts: "a,b" is not [user@]host[:port]: bad host name',
    ]);
    expect(parsed.entries.map((e) => [e.line, e.user])).toEqual([[3, 'ana']]);
  });

  it('gives each record the physical line it starts on, however many lines earlier quoted cells span', () => {
    const csv = 'user,subject,slot\nana,"CN=Ana\nLima\n",9c\nbob,"CN=Bob,\n\nO=Example",9z\ncy,CN=Cy,9q\n';
    const expected = ['m.csv:5: slot "9z" is not one of 9a, 9c, 9d, 9e, 82–95 (or authentication, signature, key-management, card-authentication)',
      'm.csv:8: slot "9q" is not one of 9a, 9c, 9d, 9e, 82–95 (or authentication, signature, key-management, card-authentication)'];
    const parsed = parseManifest(csv, 'm.csv');
    expect(parsed.errors).toEqual(expected);
    expect(parsed.entries).toStrictEqual([{ line: 2, user: 'ana', subject: 'CN=Ana\nLima', hosts: [], slot: '9c', algorithm: 'RSA2048' }]);
    expect(parseManifest(csv.replace(/\n/g, '\r\n'), 'm.csv').errors).toEqual(expected);
  });

  it('reports a CSV quote that is never closed at the line of its record', () => {
    expect(parseManifest('user,hosts\nana,web-1\n\n# b\nbob,"web-2\ncy,web-3\n', 'm.csv')).toStrictEqual({
      entries: [],
      errors: ['m.csv:5: a quoted cell is never closed: a " opens it and the file ends before the closing "'],
    });
  });

  it('reports a YAML syntax error with its line instead of throwing', () => {
    const yaml = 'people:\n  - user: ana\n    hosts: [web-1, web-2\n  - user: bob\n';
    expect(parseManifest(yaml, 'bad.yaml')).toStrictEqual({
      entries: [],
      errors: ['bad.yaml:4: this is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    });
    expect(() => parseManifest('people: [\n', 'bad.yml')).not.toThrow();
    expect(parseManifest('people: [\n', 'bad.yml').errors).toHaveLength(1);
  });

  it('refuses host specs that ssh would read as options, in lists and in strings', () => {
    const parsed = parseManifest('- user: ana\n  hosts: web-1,-oProxyCommand=x\n- user: bob\n  hosts:\n    - bob@-oProxyCommand=x\n', 'm.yaml');
    expect(parsed.errors).toEqual([`m.yaml:2: hosts: "-oProxyCommand=x" ${HOST_DASH}`, `m.yaml:5: hosts: "bob@-oProxyCommand=x" ${HOST_DASH}`]);
    expect(parsed.entries).toEqual([]);
    expect(parseManifest('user,hosts\nana,-oProxyCommand=x\n', 'm.csv').errors).toEqual([`m.csv:2: hosts: "-oProxyCommand=x" ${HOST_DASH}`]);
  });
});

describe('batch manifest: checks across people', () => {
  it('reports a repeated user (case-sensitive) and a repeated card serial with both lines', () => {
    const csv = 'user,card-serial\nana,100\nAna,200\nbob,100\nana,300\n';
    const parsed = parseManifest(csv, 'm.csv');
    expect(parsed.errors).toEqual(['m.csv:4: card-serial 100 also on line 2', 'm.csv:5: user "ana" also on line 2']);
    expect(parsed.entries.map((e) => [e.line, e.user, e.cardSerial])).toEqual([[2, 'ana', 100], [3, 'Ana', 200], [4, 'bob', 100], [5, 'ana', 300]]);
  });

  it('reports a manifest that names nobody', () => {
    expect(parseManifest('', 'm.yaml').errors).toEqual(['m.yaml:1: no people in the manifest']);
    expect(parseManifest('# nobody yet\npeople: []\n', 'm.yaml').errors).toEqual(['m.yaml:2: no people in the manifest']);
    expect(parseManifest('user,hosts\n\n# later\n', 'm.csv').errors).toEqual(['m.csv:1: no people in the manifest']);
    expect(parseManifest('crowd:\n  - user: ana\n', 'm.yaml').errors).toEqual([
      'm.yaml:1: unknown top-level key "crowd": the manifest is a list of people, either at the top or under "people:"',
      'm.yaml:1: the manifest has no "people:" key: list the people under it, or make the whole file a list',
    ]);
  });

  it('needs a user column in a CSV, reported once on the header', () => {
    expect(parseManifest('name,hosts\nana,web-1\nbob,web-2\n', 'm.csv').errors).toEqual([
      `m.csv:1: unknown column "name": the header row names columns from ${KEYS}`,
      `m.csv:1: the header row has no user column: it names the columns, user and any of ${KEYS}`,
    ]);
  });
});

describe('user names that would leave --out DIR', () => {
  it('refuses path separators and . or ..', () => {
    const { entries, errors } = parseManifest('- user: ../../etc\n  card-serial: 5\n- user: a/b\n  card-serial: 6\n- user: ..\n  card-serial: 7\n- user: ok\n  card-serial: 8\n', 'm.yaml');
    expect(errors).toEqual([
      'm.yaml:1: user "../../etc" must not contain / or \\, nor be . or ..',
      'm.yaml:3: user "a/b" must not contain / or \\, nor be . or ..',
      'm.yaml:5: user ".." must not contain / or \\, nor be . or ..',
    ]);
    expect(entries.map((e) => e.user)).toEqual(['ok']);
  });
});

describe('@GROUP in hosts: the site policy\'s host groups', () => {
  const policy: SitePolicy = { ...EMPTY_POLICY, file: '/etc/piv-enroll/policy.yaml', hostGroups: { web: ['deploy@web1', 'deploy@web2'], db: ['deploy@db1'] } };

  it('expands a group in its place, each host once, in YAML and CSV alike', () => {
    const yaml = parseManifest('- user: ana\n  hosts: [admin@bastion, "@web", deploy@web2, "@db"]\n', 'm.yaml', { policy });
    expect(yaml).toStrictEqual({ entries: [{ line: 1, user: 'ana', hosts: ['admin@bastion', 'deploy@web1', 'deploy@web2', 'deploy@db1'], slot: '9c', algorithm: 'RSA2048' }], errors: [] });
    const csv = parseManifest('user,hosts\nana,admin@bastion @web deploy@web2 @db\n', 'm.csv', { policy });
    expect(withoutLines(csv.entries)).toStrictEqual(withoutLines(yaml.entries));
  });

  it('an unknown group is refused on its own line, naming the groups there are; without a policy every group is', () => {
    const text = ['- user: ana', '  hosts:', '    - "@web"', '    - "@mail"', '- user: bo', '  hosts: ["@db"]', ''].join('\n');
    expect(parseManifest(text, 'm.yaml', { policy }).errors).toEqual([
      'm.yaml:4: hosts: @mail: the policy /etc/piv-enroll/policy.yaml has no host group "mail" (it has @web, @db)',
    ]);
    expect(parseManifest(text, 'm.yaml').errors).toEqual([
      'm.yaml:3: hosts: @web: host groups come from a site policy (--policy FILE), and none is in effect',
      'm.yaml:4: hosts: @mail: host groups come from a site policy (--policy FILE), and none is in effect',
      'm.yaml:6: hosts: @db: host groups come from a site policy (--policy FILE), and none is in effect',
    ]);
  });
});
