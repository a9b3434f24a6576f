/**
 * Plays the virtual YubiKey to vsmartcard's vpcd reader driver, so pcscd, ykman, OpenSC and OpenSSH
 * see it as a card in a reader. vpcd listens; we connect. Each message is a 2-byte big-endian length
 * and a body: a 1-byte body is a control message (0 power off, 1 power on, 2 reset, 4 send the ATR),
 * anything longer is a command APDU, answered with the response APDU.
 */
import { connect, type Socket } from 'node:net';
import { fromHex } from '../../bytes/hex.js';
import { decodeResponseApdu } from '../../bytes/apdu.js';
import { ApduTracer } from '../apdu-trace.js';
import type { VirtualYubiKey } from './applet.js';
import { writeCardStateFile } from './state-file.js';
import type { CardPacer } from './timing-model.js';

/** ATR of a YubiKey 5 over USB: tools read "Yubico" and the PIV/OTP/FIDO interfaces from it. */
export const YUBIKEY_5_ATR = fromHex('3BFD1300008131FE158073C021C057597562694B657940');

const CONTROL = { POWER_OFF: 0, POWER_ON: 1, RESET: 2, GET_ATR: 4 } as const;

export interface VpcdBridgeOptions {
  host: string;
  port: number;
  card: VirtualYubiKey;
  /** State file to save after every change. */
  file?: string;
  atr?: Uint8Array;
  /** Notices (connected, reconnecting) and, with a tracer, the APDU trace. */
  log: (line: string) => void;
  trace?: boolean;
  reconnectDelayMs?: number;
  /** Answers no sooner than a real card would (src/transport/virtual/timing-model.ts); absent: as fast as it can. */
  pacer?: CardPacer;
}

export type BridgeEnd = 'stopped' | 'vanished';

export class VpcdBridge {
  private socket: Socket | undefined;
  private stopping = false;
  private buffer = Buffer.alloc(0);
  private work: Promise<void> = Promise.resolve();
  private readonly tracer: ApduTracer | undefined;
  private finish!: (end: BridgeEnd) => void;
  /** Resolves when the bridge ends: stop() was called, or a fault made the card vanish. */
  readonly ended: Promise<BridgeEnd> = new Promise((resolve) => (this.finish = resolve));
  private connectedOnce = false;
  private connected = false;
  private warnedUnreachable = false;

  constructor(private readonly options: VpcdBridgeOptions) {
    this.tracer = options.trace ? new ApduTracer((line) => options.log(line)) : undefined;
  }

  start(): void {
    this.connect();
  }

  /** Closes the connection after the APDU in progress has been answered and saved. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.work;
    this.socket?.destroy();
    this.finish('stopped');
  }

  private connect(): void {
    if (this.stopping) return;
    const { host, port } = this.options;
    const socket = connect({ host, port });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.connected = true;
      this.warnedUnreachable = false;
      this.options.log(`${this.connectedOnce ? 'reconnected' : 'connected'} to vpcd at ${host}:${port}`);
      this.connectedOnce = true;
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.warnedUnreachable && !this.stopping) {
        this.options.log(`vpcd at ${host}:${port} not reachable (${error.code ?? error.message}); retrying`);
        this.warnedUnreachable = true;
      }
    });
    socket.on('close', () => {
      if (this.stopping) return;
      if (this.connected) this.options.log(`vpcd at ${host}:${port} closed the connection (pcscd stopped?); reconnecting`);
      this.connected = false;
      this.options.card.powerCycle(); // like a card pulled out: all security state is gone
      // A live timer on purpose: it is what keeps the process (and the card) waiting for vpcd to return.
      setTimeout(() => this.connect(), this.options.reconnectDelayMs ?? 1000);
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2) {
      const length = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + length) break;
      const body = new Uint8Array(this.buffer.subarray(2, 2 + length));
      this.buffer = this.buffer.subarray(2 + length);
      // One message at a time, in order, each saved before the next is read.
      this.work = this.work.then(() => this.handle(body)).catch((error: unknown) => {
        this.options.log(`error handling a vpcd message: ${(error as Error).message}`);
        this.socket?.destroy();
      });
    }
  }

  private send(body: Uint8Array): void {
    const frame = Buffer.alloc(2 + body.length);
    frame.writeUInt16BE(body.length, 0);
    frame.set(body, 2);
    this.socket?.write(frame);
  }

  private async handle(body: Uint8Array): Promise<void> {
    const { card } = this.options;
    if (body.length === 1) {
      switch (body[0]) {
        case CONTROL.POWER_OFF:
        case CONTROL.POWER_ON:
        case CONTROL.RESET:
          card.powerCycle();
          return;
        case CONTROL.GET_ATR:
          this.send(this.options.atr ?? YUBIKEY_5_ATR);
          return;
        default:
          return; // unknown control messages are ignored, as vicc does
      }
    }
    if (body.length === 0) return;
    if (card.faults.has('drop-mid-command') && (body[0]! & 0x10) !== 0) {
      // Vanish mid-chain: like pulling the card out while a long command is on the wire.
      this.options.log('fault drop-mid-command: the card vanishes in the middle of a chained command');
      this.stopping = true;
      this.socket?.destroy();
      this.finish('vanished');
      return;
    }
    this.tracer?.command(body);
    const work = async (): Promise<Uint8Array> => {
      const response = await card.process(body);
      // Saving is the emulator's flash write: inside the paced work, so the model's write time is not added to it.
      if (card.takeChanged() && this.options.file) await writeCardStateFile(this.options.file, card.state);
      return response;
    };
    const response = this.options.pacer ? await this.options.pacer.exchange(body, () => card.state, work) : await work();
    if (this.tracer) {
      const decoded = decodeResponseApdu(response);
      this.tracer.response(decoded.data, decoded.sw);
    }
    this.send(response);
  }
}
