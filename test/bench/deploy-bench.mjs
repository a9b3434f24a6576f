#!/usr/bin/env node
// Benchmark for `npm run bench:deploy`: one public key onto 50 SSH endpoints on loopback, by `piv-enroll deploy`
// (default concurrency) and by a sequential `ssh-copy-id -f` loop (also with piv-enroll's key exchange, for a like-for-like
// figure), then piv-enroll's idempotent second run; medians of BENCH_RUNS (3) interleaved runs.
// Each endpoint is its own sshd (own port) for its own user, so every run edits 50 separate authorized_keys files,
// as on 50 hosts. Needs root (useradd, sshd) and dist/ built. Removes its users and stops its sshds at the end.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function sh(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

function seconds(started) {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const dir = mkdtempSync(join(tmpdir(), 'pe-deploy-bench-'));
chmodSync(dir, 0o755); // homes live below: their users must reach them
const tag = randomBytes(2).toString('hex');
const users = [];
const daemons = [];

async function startEndpoint(index, hostKey, deployerLine) {
  const name = `pe-db${tag}${String(index).padStart(2, '0')}`;
  const home = join(dir, name);
  sh('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', '--password', '*', name]);
  users.push(name);
  const uid = Number(sh('id', ['-u', name]).trim());
  const gid = Number(sh('id', ['-g', name]).trim());
  const sshDir = join(home, '.ssh');
  mkdirSync(sshDir, { mode: 0o700 });
  chownSync(sshDir, uid, gid);
  const authorizedKeys = join(sshDir, 'authorized_keys');
  const reset = () => {
    writeFileSync(authorizedKeys, `${deployerLine}\n`, { mode: 0o600 });
    chownSync(authorizedKeys, uid, gid);
  };
  reset();
  const port = await freePort();
  const config = join(dir, `sshd_config.${index}`);
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${join(dir, `sshd.${index}.pid`)}`,
    'AuthorizedKeysFile .ssh/authorized_keys', 'StrictModes yes', 'UsePAM no', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', `AllowUsers ${name}`, 'LogLevel ERROR', '',
  ].join('\n'));
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: 'ignore' });
  daemons.push(child);
  return { name, port, authorizedKeys, reset };
}

async function waitForListening(endpoints) {
  const deadline = Date.now() + 20_000;
  for (const e of endpoints) {
    for (;;) {
      const probe = spawnSync('ssh-keyscan', ['-T', '1', '-p', String(e.port), '127.0.0.1'], { encoding: 'utf8' });
      if (probe.stdout.includes('ssh-ed25519')) break;
      if (Date.now() > deadline) throw new Error(`sshd on port ${e.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function deployWithPivEnroll(args) {
  const started = process.hrtime.bigint();
  // BENCH_CONCURRENCY tries another --concurrency than the default (16).
  const concurrency = process.env.BENCH_CONCURRENCY ? ['--concurrency', process.env.BENCH_CONCURRENCY] : [];
  // An inventory of its own (opened and looked up as usual), not the one of whoever runs the bench.
  const result = spawnSync(process.execPath, [CLI, 'deploy', ...args, ...concurrency, '--json', '--inventory', join(dir, 'inventory.sqlite')], { encoding: 'utf8' });
  const took = seconds(started);
  if (result.status !== 0) throw new Error(`piv-enroll deploy exited ${result.status}: ${result.stderr}\n${result.stdout}`);
  return { took, report: JSON.parse(result.stdout) };
}

try {
  if (process.getuid?.() !== 0) throw new Error('the deploy bench needs root: it creates users and runs sshd');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const identity = join(dir, 'deployer');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'deployer', '-f', identity]);
  const key = join(dir, 'card');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'card key', '-f', key]);
  const keyLine = readFileSync(`${key}.pub`, 'utf8').trim();
  const deployerLine = readFileSync(`${identity}.pub`, 'utf8').trim();
  const hostKeyText = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');

  const endpoints = [];
  for (let i = 0; i < ENDPOINTS; i++) endpoints.push(await startEndpoint(i, hostKey, deployerLine));
  await waitForListening(endpoints);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, endpoints.map((e) => `[127.0.0.1]:${e.port} ${hostKeyText}`).join('\n') + '\n');
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, endpoints.map((e) => `${e.name}@127.0.0.1:${e.port}`).join('\n') + '\n');
  const common = ['--public-key', `${key}.pub`, '--hosts-file', hostsFile, '--identity', identity, '--known-hosts', knownHosts];
  const allHave = () => endpoints.every((e) => readFileSync(e.authorizedKeys, 'utf8').split('\n').includes(keyLine));

  const sshOptions = ['-o', `IdentityFile=${identity}`, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'BatchMode=yes'];
  // ssh-copy-id keeps a scratch directory in ~/.ssh: give it a home of its own rather than touching ours.
  const clientHome = join(dir, 'client-home');
  mkdirSync(join(clientHome, '.ssh'), { recursive: true, mode: 0o700 });
  const copyIdLoop = (extra = []) => {
    for (const e of endpoints) e.reset();
    const started = process.hrtime.bigint();
    for (const e of endpoints) {
      sh('ssh-copy-id', ['-f', '-i', `${key}.pub`, ...sshOptions, ...extra, '-p', String(e.port), `${e.name}@127.0.0.1`], { env: { ...process.env, HOME: clientHome } });
    }
    const took = seconds(started);
    if (!allHave()) throw new Error('the ssh-copy-id loop missed an endpoint');
    return took;
  };
  const pivEnrollRuns = () => {
    for (const e of endpoints) e.reset();
    const first = deployWithPivEnroll(common);
    const added = first.report.hosts.filter((h) => h.status === 'added').length;
    if (added !== ENDPOINTS || !allHave()) throw new Error(`piv-enroll added the key on ${added} of ${ENDPOINTS} endpoints`);
    const second = deployWithPivEnroll(common);
    const present = second.report.hosts.filter((h) => h.status === 'already-present').length;
    if (present !== ENDPOINTS) throw new Error(`the second run found the key on ${present} of ${ENDPOINTS} endpoints`);
    return [first.took, second.took];
  };

  // Interleaved runs, medians: the machine may be shared, and the first connections to fresh sshds are slower.
  const loops = [];
  const loopsSameKex = [];
  const firsts = [];
  const seconds2 = [];
  for (let run = 0; run < RUNS; run++) {
    const [first, second] = pivEnrollRuns();
    firsts.push(first);
    seconds2.push(second);
    loops.push(copyIdLoop());
    loopsSameKex.push(copyIdLoop(['-o', 'KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org']));
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const show = (values) => `${median(values).toFixed(2)} s  (runs: ${values.map((v) => v.toFixed(2)).join(', ')})`;
  const nodeStarted = process.hrtime.bigint();
  sh(process.execPath, ['-e', '0']);
  const nodeStart = seconds(nodeStarted);

  console.log(`deploy bench: ${ENDPOINTS} sshd endpoints on 127.0.0.1 (one user each), one ed25519 key, ${cpus().length} CPUs, medians of ${RUNS} runs`);
  console.log(`  sequential ssh-copy-id -f loop                    ${show(loops)}`);
  console.log(`  the same loop, X25519 key exchange as piv-enroll  ${show(loopsSameKex)}`);
  console.log(`  piv-enroll deploy (default concurrency 16)        ${show(firsts)}`);
  console.log(`  piv-enroll deploy, idempotent second run          ${show(seconds2)}   (already present everywhere, nothing written)`);
  console.log(`  ratio: ${(median(loops) / median(firsts)).toFixed(1)}× faster than the ssh-copy-id loop (target ≥ 10×); ${(median(loopsSameKex) / median(firsts)).toFixed(1)}× with the same key exchange`);
  console.log(`  node -e 0 (start-up alone): ${nodeStart.toFixed(2)} s`);
} finally {
  for (const child of daemons) child.kill('SIGTERM');
  await Promise.all(daemons.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.on('close', r)))));
  for (const name of users) spawnSync('userdel', ['--remove', name], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
