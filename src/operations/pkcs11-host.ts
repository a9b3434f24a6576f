/**
 * PKCS#11 modules run in a host process of our own, and every call has a time bound: a module that never
 * returns is abandoned (the process killed) with a Pkcs11TimeoutError naming the module and the call, and the
 * tool goes on. Seen once: OpenSC's C_Initialize deadlocked in sc_lock while connecting the card, and an
 * `enroll` with the default checks stopped for good.
 *
 * Why a process and not a worker thread (measured, Node 20.20): a worker stuck in a native call (a 20 s
 * execFileSync('sleep'), or pkcs11js calling a stand-in module whose C_Initialize deadlocks) cannot be
 * abandoned. worker.terminate() settles only once the native call returns, and the process does not exit
 * before then either, with worker.unref(), process.exit() or process.reallyExit(): Node joins its worker
 * threads at exit. A process can be killed at once. The price is an asynchronous API.
 *
 * A host serves one open token at a time, one call at a time, and is reused by the next token, so a run that checks
 * through several modules one after the other pays node's start (~0.1 s on the two-core test machine) once; after a
 * timeout or a crash, the next token gets a new host.
 * Tokens take turns unless each keeps to its own reader. Two tokens of one module in one host share its library state
 * (batch's second card failed with CKR_CRYPTOKI_ALREADY_INITIALIZED), so each open token has a host of its own. A module
 * left alone reaches every reader: OpenSC's C_Initialize connects and SELECTs the card in each, and a SELECT between
 * another token's context-specific login and its C_Sign resets that login; ykcs11's C_GetSlotList connects to every
 * card too. So a token that reaches every reader runs alone, while OpenSC tokens kept to their reader by a generated
 * opensc.conf (pkcs11-isolation.ts) run side by side: a batch's readers check their cards at the same time.
 * (The CKR_BUFFER_TOO_SMALL seen with four readers was another thing: C_GetSlotList while a card was swapped in, see
 * pkcs11-token.ts.) A token left open does not hold the others for ever: after one call's time bound the next opens
 * anyway, in a host of its own. Each call is a round
 * trip over the IPC channel (~0.1 ms; v8 serialization, so Buffers arrive as Buffers, byte for byte).
 * Measured on enroll's checks through OpenSC and ykcs11 (6 signatures, virtual card behind pcscd): 104 ms
 * in process before, 279 ms with the host (medians of 7), of which ~30 ms are the round trips.
 * A module that crashes (ykcs11 2.2's C_Sign on a slot without a certificate) now takes only the host with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnvironment } from './child-environment.js';
import { UsageError } from '../errors.js';
import { pkcs11jsPath, type Pkcs11Api } from './pkcs11-binding.js';
import { pkcs11HostProgram, type HostRequest, type HostResponse } from './pkcs11-host-program.js';
import { Pkcs11Error, type Pkcs11Module } from './pkcs11-modules.js';
import type { ReaderReach } from './pkcs11-isolation.js';

/** A module call did not return within its bound: the module was abandoned, its process killed. */
export class Pkcs11TimeoutError extends Pkcs11Error {}

/** Any call but key generation: C_Initialize connecting a card takes well under a second. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** C_GenerateKeyPair: RSA 4096 on a YubiKey takes a minute or more (the card searches primes). */
export const DEFAULT_KEY_GENERATION_TIMEOUT_MS = 300_000;
/**
 * Milliseconds for each module call (tests shorten it). Key generation keeps its own bound unless this is longer.
 */
export const PKCS11_TIMEOUT_ENVIRONMENT = 'PIV_ENROLL_PKCS11_TIMEOUT_MS';

export interface Pkcs11Timeouts {
  callMs: number;
  keyGenerationMs: number;
}

export function pkcs11Timeouts(env: NodeJS.ProcessEnv = process.env): Pkcs11Timeouts {
  const text = env[PKCS11_TIMEOUT_ENVIRONMENT];
  if (text === undefined || text === '') return { callMs: DEFAULT_CALL_TIMEOUT_MS, keyGenerationMs: DEFAULT_KEY_GENERATION_TIMEOUT_MS };
  const callMs = Number(text);
  if (!Number.isInteger(callMs) || callMs <= 0) throw new UsageError(`${PKCS11_TIMEOUT_ENVIRONMENT} takes a whole number of milliseconds, not "${text}"`);
  return { callMs, keyGenerationMs: Math.max(callMs, DEFAULT_KEY_GENERATION_TIMEOUT_MS) };
}

/**
 * pkcs11js's calls, each answered through the host. Arguments are copied there: a call's output buffer
 * (C_Sign's) is not written back, its return value is the answer.
 */
export type RemotePkcs11 = {
  [Method in Exclude<keyof Pkcs11Api, 'load'>]: (...args: Parameters<Pkcs11Api[Method]>) => Promise<ReturnType<Pkcs11Api[Method]>>;
};

const REMOTE_METHODS: Record<keyof RemotePkcs11, true> = {
  C_Initialize: true,
  C_Finalize: true,
  C_GetSlotList: true,
  C_GetSlotInfo: true,
  C_GetTokenInfo: true,
  C_OpenSession: true,
  C_CloseSession: true,
  C_Login: true,
  C_Logout: true,
  C_SetPIN: true,
  C_CreateObject: true,
  C_FindObjectsInit: true,
  C_FindObjects: true,
  C_FindObjectsFinal: true,
  C_GetAttributeValue: true,
  C_GenerateKeyPair: true,
  C_SignInit: true,
  C_Sign: true,
};

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  module: string;
  method: string;
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

class HostProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private nextInstance = 1;
  /** Set once the process is gone or abandoned: what every later call fails with. */
  private ended: Error | undefined;
  /** Modules loaded and not yet released: a host with none is free for the next token. */
  openModules = 0;

  constructor() {
    // The source of a self-contained function (pkcs11-host-program.ts), so no file has to be found at run time.
    this.child = spawn(process.execPath, ['-e', `(${pkcs11HostProgram.toString()})(require, process.argv[1])`, pkcs11jsPath()], {
      // A module's chatter goes to our stderr: stdout may be --json.
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'advanced',
      // The PIN reaches the host over the IPC channel only: never PIV_PIN and the other secrets in its environment.
      env: childEnvironment('pkcs11'),
    });
    this.child.on('message', (response: HostResponse) => this.answer(response));
    this.child.on('error', (error) => this.end(new Pkcs11Error(`the PKCS#11 host process failed: ${error.message}`)));
    this.child.on('exit', (code, signal) => {
      const how = signal ?? `exit code ${code}`;
      for (const call of this.pending.values()) call.reject(new Pkcs11Error(`${call.module}: the module's process ended during ${call.method} (${how})`));
      this.end(new Pkcs11Error(`the PKCS#11 host process ended (${how})`));
    });
    this.idle();
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  newInstance(): number {
    return this.nextInstance++;
  }

  call(instance: number, module: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.abandon(id, timeoutMs), timeoutMs);
      this.pending.set(id, { resolve, reject, timer, module, method });
      this.busy();
      try {
        this.child.send({ id, instance, method, args } satisfies HostRequest);
      } catch (error) {
        // Arguments that cannot be serialized: a bug of ours, not the module's; the host is fine.
        clearTimeout(timer);
        this.pending.delete(id);
        this.idle();
        reject(error as Error);
      }
    });
  }

  /** At our exit: the host must not outlive us, least of all stuck in a module holding the card. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private answer(response: HostResponse): void {
    const call = this.pending.get(response.id);
    if (!call) return; // answered after its timeout: the process is being killed
    this.pending.delete(response.id);
    clearTimeout(call.timer);
    if ('error' in response) call.reject(new Error(response.error));
    else call.resolve(response.value);
    this.idle();
  }

  private abandon(id: number, timeoutMs: number): void {
    const call = this.pending.get(id);
    if (!call) return;
    const error = new Pkcs11TimeoutError(`${call.module}: ${call.method} did not return within ${seconds(timeoutMs)}`);
    call.reject(error);
    this.pending.delete(id);
    this.end(error);
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = reason;
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(reason);
    }
    this.pending.clear();
    const index = hosts.indexOf(this);
    if (index >= 0) hosts.splice(index, 1);
    this.kill();
    // Killed but not yet reaped (a process in uninterruptible I/O dies later): we do not wait for it.
    this.child.unref();
    this.child.channel?.unref();
  }

  /** Only a call in flight keeps our event loop alive: a token nobody closed must not hold the tool at exit. */
  private busy(): void {
    this.child.ref();
    this.child.channel?.ref();
  }

  private idle(): void {
    if (this.pending.size > 0) return;
    this.child.unref();
    this.child.channel?.unref();
  }
}

const hosts: HostProcess[] = [];

interface Turn {
  reach: ReaderReach['kind'];
  begin(): void;
}
/** Tokens open now, by reach, and those waiting for their turn (first come, first served). */
const open = { oneReader: 0, everyReader: 0 };
const waiting: Turn[] = [];

function mayBegin(reach: ReaderReach['kind']): boolean {
  return reach === 'one-reader' ? open.everyReader === 0 : open.everyReader === 0 && open.oneReader === 0;
}

function startWaiting(): void {
  while (waiting.length > 0 && mayBegin(waiting[0]!.reach)) waiting.shift()!.begin();
}

/**
 * Waits for this token's turn (at most `maxWaitMs`); resolves to what ends it. Tokens kept to their own reader
 * (pkcs11-isolation.ts) run side by side, each in a host of its own; a token that reaches every reader runs alone.
 */
async function takeTurn(reach: ReaderReach['kind'], maxWaitMs: number): Promise<() => void> {
  const counter = reach === 'one-reader' ? 'oneReader' : 'everyReader';
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const turn: Turn = {
      reach,
      begin() {
        clearTimeout(timer);
        const index = waiting.indexOf(turn);
        if (index >= 0) waiting.splice(index, 1);
        open[counter]++;
        resolve();
      },
    };
    if (waiting.length === 0 && mayBegin(reach)) return turn.begin();
    waiting.push(turn);
    // A token left open does not hold the others for ever: after one call's bound, this one goes anyway.
    timer = setTimeout(() => turn.begin(), maxWaitMs);
    timer.unref();
  });
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    open[counter]--;
    startWaiting();
  };
}
let killAtExit = false;

/** A live host with no open module, or a new one. */
function freeHost(): HostProcess {
  if (promised > 0) promised--;
  return hosts.find((h) => h.alive && h.openModules === 0) ?? spawnHost();
}

function spawnHost(): HostProcess {
  const started = new HostProcess();
  hosts.push(started);
  if (!killAtExit) {
    killAtExit = true;
    process.on('exit', () => {
      for (const h of hosts) h.kill();
    });
  }
  return started;
}

/** Hosts started ahead for tokens yet to open (one per prestartPkcs11Host call not yet taken by a token). */
let promised = 0;

/**
 * Starts a host now, so its start-up (node, pkcs11js) overlaps with other work, such as the card's, instead of
 * delaying the first PKCS#11 check. Touches no module and no card. The next token that opens takes it; each call
 * promises one (a batch's readers each get theirs).
 */
export function prestartPkcs11Host(): void {
  promised++;
  const free = hosts.filter((h) => h.alive && h.openModules === 0).length;
  if (free < promised) spawnHost();
}

/** One module loaded in the host: its calls, each under its bound. */
export class RemoteModule {
  private released = false;

  private constructor(
    private readonly host: HostProcess,
    private readonly instance: number,
    private readonly timeouts: Pkcs11Timeouts,
    readonly module: Pkcs11Module,
    readonly api: RemotePkcs11,
    private readonly endTurn: () => void,
  ) {}

  /**
   * Loads `module` in a host, with the environment `reach` sets for it (OPENSC_CONF). A failure to load is an Error
   * with the loader's message (dlerror).
   */
  static async load(module: Pkcs11Module, timeouts: Pkcs11Timeouts, reach: ReaderReach = { kind: 'every-reader' }): Promise<RemoteModule> {
    const endTurn = await takeTurn(reach.kind, timeouts.callMs);
    const hostProcess = freeHost();
    hostProcess.openModules++;
    const instance = hostProcess.newInstance();
    const bound = (method: string): number => (method === 'C_GenerateKeyPair' ? timeouts.keyGenerationMs : timeouts.callMs);
    const api = Object.fromEntries(
      Object.keys(REMOTE_METHODS).map((method) => [method, (...args: unknown[]) => hostProcess.call(instance, module.name, method, args, bound(method))]),
    ) as RemotePkcs11;
    // The host's start-up (node, pkcs11js) counts in this first call's bound.
    try {
      await hostProcess.call(instance, module.name, 'load', [module.path, reach.kind === 'one-reader' ? reach.environment : {}], timeouts.callMs);
    } catch (error) {
      hostProcess.openModules--;
      endTurn();
      throw error;
    }
    return new RemoteModule(hostProcess, instance, timeouts, module, api, endTurn);
  }

  /** False once the host was abandoned (a call did not return) or ended: no call can be made any more. */
  get alive(): boolean {
    return this.host.alive;
  }

  /** Lets the host forget the module (after C_Finalize; an abandoned host has nothing to forget), and the next token open. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      if (this.alive) await this.host.call(this.instance, this.module.name, 'release', [], this.timeouts.callMs);
    } finally {
      this.host.openModules--;
      this.endTurn();
    }
  }
}
