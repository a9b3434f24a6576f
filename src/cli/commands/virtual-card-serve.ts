import { UsageError } from '../../errors.js';
import { parseFaults } from '../../operations/open-card.js';
import { formFactorOptionName } from '../../standards/management.js';
import { openVirtualCard } from '../../transport/virtual/virtual-transport.js';
import { VpcdBridge } from '../../transport/virtual/vpcd-bridge.js';
import { CardPacer, DEFAULT_TIMING_MODEL, formatCardTimeStats, type TimingModelName } from '../../transport/virtual/timing-model.js';
import type { Output } from '../output.js';

export interface ServeOptions {
  vpcd: string;
  state: string;
  firmware?: string;
  serial?: number;
  /** Form factor code of a card being created (src/standards/management.ts). */
  formFactor?: number;
  faults?: string[];
  verbose?: boolean;
  /** Answer as fast as the emulator can (none), or as a USB YubiKey 5 would (yubikey5). */
  timing?: TimingModelName;
}

export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new UsageError(`--vpcd takes HOST:PORT (e.g. 127.0.0.1:35965), not "${text}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Serves the virtual card to vpcd until SIGINT/SIGTERM (or a fault makes it vanish). */
export async function runServe(options: ServeOptions, output: Output): Promise<number> {
  const { host, port } = parseHostPort(options.vpcd);
  const { transport, created } = await openVirtualCard({
    file: options.state,
    firmware: options.firmware,
    serial: options.serial,
    formFactor: options.formFactor,
    faults: parseFaults(options.faults),
  });
  if (created) output.notice(`created a new virtual card in ${options.state} (test-only: it keeps its secrets in clear)`);
  const state = transport.card.state;
  const formFactor = formFactorOptionName(state.formFactor) ?? `form factor ${state.formFactor}`;
  output.notice(`serving virtual YubiKey ${state.firmware}, serial ${state.serial}, ${formFactor}, to vpcd at ${host}:${port}`);
  const timing = options.timing ?? DEFAULT_TIMING_MODEL;
  if (timing !== 'none') output.notice(`timing model ${timing}: answers paced like a real card`);
  const pacer = new CardPacer(timing);
  const bridge = new VpcdBridge({ host, port, card: transport.card, file: options.state, log: output.notice, trace: options.verbose, pacer });
  const stop = (): void => void bridge.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  bridge.start();
  const end = await bridge.ended;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  const served = `${transport.card.apduCount} APDUs served`;
  output.notice(end === 'vanished' ? `virtual card gone (fault), ${served}` : `virtual card stopped, ${served}`);
  // The card's own share of the time, for benchmarks: the physical limit of whatever drove it.
  output.notice(formatCardTimeStats(pacer.stats()));
  return 0;
}
