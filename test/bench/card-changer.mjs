#!/usr/bin/env node
// A card changer for one vpcd reader: a long-lived process that serves one virtual card after another, so a bench
// swaps cards without starting a process per card (`piv-enroll virtual-card serve` costs ~0.8 s of node and CLI
// start-up each time, CPU a person swapping a YubiKey never takes from the host).
//
//   node test/bench/card-changer.mjs --vpcd 127.0.0.1:35965
//
// Commands on stdin, one per line; one JSON line on stdout answers each, in order:
//   make STATEFILE [SERIAL|-]              creates the card's state, factory-fresh, without inserting it (a bench
//                                          makes its cards before the timed part: a desk's cards come made)
//     → {"made":{"serial":N,"created":true|false}}
//   insert STATEFILE [SERIAL|-] [TIMING]   opens the card in STATEFILE (created factory-fresh, with SERIAL, when
//                                          missing) and connects to vpcd, so pcscd sees a card inserted
//     → {"inserted":{"serial":N,"created":true|false,"timing":"none"}}   once the vpcd connection is up
//   remove                                 closes the vpcd connection after the APDU in progress is answered and
//                                          the state saved (as `virtual-card serve` stops), so pcscd sees it removed
//     → {"removed":{"apdus":N,"busyMs":…,"modelledMs":…,"computedMs":…,"operations":{…}}}   that card's figures
//   quit                                   removes the card, if any, and exits (so does the end of stdin, or SIGTERM)
// A command may also be a JSON object: {"insert":{"state":"…","serial":N,"timing":"yubikey5"}}, {"remove":{}}.
// Anything refused answers {"error":"…"}; a card that vanishes by itself (a fault) is reported as {"vanished":{…}}.
// Notices (connected, …) go to stderr.
import { createInterface } from 'node:readline';

const dist = new URL('../../dist/', import.meta.url);
const { openVirtualCard } = await import(new URL('transport/virtual/virtual-transport.js', dist).href);
const { VpcdBridge } = await import(new URL('transport/virtual/vpcd-bridge.js', dist).href);
const { CardPacer, formatCardTimeStats, parseTimingModel } = await import(new URL('transport/virtual/timing-model.js', dist).href);
const { parseHostPort } = await import(new URL('cli/commands/virtual-card-serve.js', dist).href);

const vpcdArg = process.argv.indexOf('--vpcd');
if (vpcdArg < 0 || !process.argv[vpcdArg + 1]) {
  process.stderr.write('usage: card-changer.mjs --vpcd HOST:PORT\n');
  process.exit(2);
}
const { host, port } = parseHostPort(process.argv[vpcdArg + 1]);
const notice = (line) => process.stderr.write(`card-changer ${port}: ${line}\n`);
const answer = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** The card in the reader: its transport, bridge and pacer (each card gets its own, so its figures are its own). */
let current;

function parseCommand(line) {
  if (line.startsWith('{')) {
    const object = JSON.parse(line);
    const [verb] = Object.keys(object);
    return { verb, ...object[verb] };
  }
  const [verb, state, serial, timing] = line.split(/\s+/);
  return { verb, state, serial: serial === undefined || serial === '-' ? undefined : serial, timing };
}

function cardStats(card) {
  const { model, apdus: pacedApdus, busyMs, modelledMs, computedMs, operations } = card.pacer.stats();
  // apdus: what the card processed ("N APDUs served" of the serve command); pacedApdus: what the pacer timed.
  return { apdus: card.transport.card.apduCount, pacedApdus, model, busyMs, modelledMs, computedMs, operations };
}

function wantedSerial(serial) {
  const wanted = serial === undefined ? undefined : Number(serial);
  if (wanted !== undefined && !Number.isSafeInteger(wanted)) throw new Error(`serial "${serial}" is no number`);
  return wanted;
}

async function make({ state, serial }) {
  if (!state) throw new Error('make needs a state file');
  const { transport, created } = await openVirtualCard({ file: state, serial: wantedSerial(serial) });
  return { made: { serial: transport.card.state.serial, created } };
}

async function insert({ state, serial, timing = 'none' }) {
  if (current) throw new Error(`a card (serial ${current.serial}) is already in the reader: remove it first`);
  if (!state) throw new Error('insert needs a state file');
  const model = parseTimingModel(timing);
  if (!model) throw new Error(`unknown timing model "${timing}"`);
  const { transport, created } = await openVirtualCard({ file: state, serial: wantedSerial(serial) });
  const pacer = new CardPacer(model);
  let connected;
  const up = new Promise((resolve) => (connected = resolve));
  const bridge = new VpcdBridge({
    host,
    port,
    card: transport.card,
    file: state,
    pacer,
    log: (line) => {
      notice(line);
      if (/^(re)?connected to vpcd/.test(line)) connected();
    },
  });
  const card = { transport, bridge, pacer, serial: transport.card.state.serial, removing: undefined };
  current = card;
  bridge.ended.then((end) => {
    if (end !== 'vanished' || current !== card) return;
    current = undefined;
    notice(`card ${card.serial} vanished (fault); ${formatCardTimeStats(card.pacer.stats())}`);
    answer({ vanished: cardStats(card) });
  });
  bridge.start();
  // Up, or gone before it was (a fault cannot fire before the first APDU, but the answer must come either way).
  await Promise.race([up, bridge.ended]);
  return { inserted: { serial: card.serial, created, timing: model } };
}

async function remove() {
  const card = current;
  if (!card) throw new Error('no card in the reader');
  card.removing ??= (async () => {
    await card.bridge.stop(); // after the APDU in progress is answered and its state saved
    if (current === card) current = undefined;
    await card.transport.close();
    notice(`card ${card.serial} removed, ${card.transport.card.apduCount} APDUs served; ${formatCardTimeStats(card.pacer.stats())}`);
    return { removed: cardStats(card) };
  })();
  return card.removing;
}

let quitting;
/** Removes the card, if any, and exits. Not queued behind the commands: a signal ends an insert still waiting for vpcd. */
function quit() {
  quitting ??= (async () => {
    const card = current;
    if (card) {
      const answered = card.removing !== undefined; // a remove command in progress answers for itself
      const removed = await remove();
      if (!answered) answer(removed);
    }
    process.exit(0);
  })();
  return quitting;
}

const commands = { make, insert, remove };
// One command at a time, answered in order.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (raw) => {
  const line = raw.trim();
  if (line === '') return;
  queue = queue.then(async () => {
    if (quitting) return;
    try {
      const command = parseCommand(line);
      if (command.verb === 'quit') return void (await quit());
      const run = commands[command.verb];
      if (!run) throw new Error(`unknown command "${command.verb}" (make, insert, remove, quit)`);
      answer(await run(command));
    } catch (error) {
      answer({ error: error.message });
    }
  });
});
lines.on('close', () => void queue.then(quit));
process.once('SIGTERM', () => void quit());
process.once('SIGINT', () => void quit());
notice(`ready for cards, vpcd at ${host}:${port}`);
