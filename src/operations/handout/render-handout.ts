/**
 * The printable handout of one enrolled card, as PDF bytes (pdfkit, its standard fonts embedded by name, so nothing
 * is read from the system). Page 1: who the card is for, its serial and key, how to log in (login-instructions.ts).
 * Page 2, only when enroll generated the initial PIN: that PIN alone, on its own sheet ("cut or fold here"), so the
 * instructions can be kept and the PIN sheet destroyed.
 *
 * Deterministic: the document's CreationDate (and with it pdfkit's file ID, an MD5 of the info dictionary) comes from
 * the injected `createdAt`, so the same data gives the same bytes. The PIN never goes into the info dictionary.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { missingCharacters, woffToSfnt } from './woff.js';
import { loginInstructions, type InstructionSection } from './login-instructions.js';

export interface HandoutData {
  /** The person the card is for (the inventory's person, else the subject CN). */
  person: string;
  serial?: number;
  slot: string;
  algorithm: string;
  /** SHA256:… */
  fingerprint: string;
  authorizedKey?: string;
  /** Where the key was deployed ([user@]host[:port]). */
  hosts?: string[];
  /** The SSH certificate's file name (piv-9c-cert.pub). */
  caCertificate?: string;
  /** The initial PIN, only when piv-enroll generated it (never one the person chose). */
  initialPin?: string;
  /** How to reach the helpdesk. */
  helpdesk?: string;
  /** An explicit virtual test card (--virtual): marked as such on the page. */
  virtualCard?: boolean;
  createdAt: Date;
}

// DejaVu Sans (OFL, through @fontsource/dejavu-sans) for the text: pdfkit's standard Helvetica only encodes
// WinAnsi, and a name like "Łukasz Żółć" came out as garbage. pdfkit embeds only the glyphs used. Commands, the
// fingerprint and the PIN stay in the standard Courier: they are ASCII.
const fonts = new Map<number, Buffer>();
function sansFont(weight: 400 | 700): Buffer {
  let font = fonts.get(weight);
  if (!font) {
    font = woffToSfnt(readFileSync(createRequire(import.meta.url).resolve(`@fontsource/dejavu-sans/files/dejavu-sans-latin-${weight}-normal.woff`)));
    fonts.set(weight, font);
  }
  return font;
}
const SANS = 'DejaVuSans';
const SANS_BOLD = 'DejaVuSans-Bold';

const MARGIN = 42;
const INK = '#111111';
const MUTED = '#555555';
const BOX = '#eef0f3';

type Doc = PDFKit.PDFDocument;

function facts(data: HandoutData): Array<[string, string]> {
  return [
    ['Person', data.person],
    ['Card serial', data.serial === undefined ? '(none reported)' : String(data.serial)],
    ['Key', `${data.algorithm} in PIV slot ${data.slot.toLowerCase()}`],
    ['Fingerprint', data.fingerprint],
    ...(data.caCertificate ? ([['SSH certificate', data.caCertificate]] as Array<[string, string]>) : []),
    ...(data.hosts && data.hosts.length > 0 ? ([['Servers', data.hosts.join(', ')]] as Array<[string, string]>) : []),
    ['Issued', data.createdAt.toISOString().slice(0, 10)],
  ];
}

function drawFacts(doc: Doc, data: HandoutData, width: number): void {
  const labelWidth = 92;
  for (const [label, value] of facts(data)) {
    const y = doc.y;
    doc.font(SANS_BOLD).fontSize(9.5).fillColor(MUTED).text(label, MARGIN, y, { width: labelWidth });
    const valueFont = label === 'Fingerprint' ? 'Courier-Bold' : SANS;
    // Courier sits higher on the line than DejaVu Sans: nudged down to share the label's baseline.
    const nudge = label === 'Person' ? -1.5 : valueFont === 'Courier-Bold' ? 1.5 : 0;
    doc.font(valueFont).fontSize(label === 'Person' ? 12 : 9.5).fillColor(INK).text(value, MARGIN + labelWidth, y + nudge, { width: width - labelWidth });
    doc.moveDown(0.25);
  }
}

function drawSection(doc: Doc, section: InstructionSection, width: number): void {
  doc.moveDown(0.35);
  doc.font(SANS_BOLD).fontSize(10).fillColor(INK).text(section.title, MARGIN, doc.y, { width });
  doc.moveDown(0.15);
  for (const block of section.blocks) {
    if (block.kind === 'text') {
      doc.font(SANS).fontSize(8).fillColor(INK).text(block.text, MARGIN, doc.y, { width, lineGap: 0.3 });
      doc.moveDown(0.2);
      continue;
    }
    doc.font('Courier').fontSize(7.8);
    const pad = 4;
    const height = doc.heightOfString(block.text, { width: width - 2 * pad });
    const top = doc.y;
    doc.rect(MARGIN, top, width, height + 2 * pad).fill(BOX);
    doc.fillColor(INK).text(block.text, MARGIN + pad, top + pad, { width: width - 2 * pad });
    doc.y = top + height + 2 * pad;
    doc.moveDown(0.3);
  }
}

function drawPinSheet(doc: Doc, data: HandoutData, width: number): void {
  doc.addPage();
  const top = MARGIN + 6;
  doc.save().moveTo(MARGIN, top).lineTo(MARGIN + width, top).dash(4, { space: 3 }).strokeColor(MUTED).stroke().restore();
  doc.font(SANS).fontSize(8).fillColor(MUTED).text('cut or fold here: keep the instructions, destroy this sheet once you have changed your PIN', MARGIN, top + 5, { width, align: 'center' });
  doc.moveDown(2.5);
  doc.font(SANS_BOLD).fontSize(14).fillColor(INK).text(`Initial PIN for ${data.person}`, MARGIN, doc.y, { width });
  doc.font(SANS).fontSize(10).fillColor(MUTED).text(`card serial ${data.serial ?? '(none reported)'}, slot ${data.slot.toLowerCase()}`, { width });
  doc.moveDown(1);
  const pinTop = doc.y;
  doc.font('Courier-Bold').fontSize(30);
  const pinWidth = doc.widthOfString(data.initialPin!, { characterSpacing: 4 }) + 28;
  doc.rect(MARGIN, pinTop, pinWidth, 48).lineWidth(1.2).strokeColor(INK).stroke();
  doc.fillColor(INK).text(data.initialPin!, MARGIN + 14, pinTop + 10, { width: pinWidth, characterSpacing: 4, lineBreak: false });
  doc.y = pinTop + 48;
  doc.moveDown(1);
  // x given again: the PIN's own x (inside its box) would otherwise carry over to the lines below.
  doc.font(SANS).fontSize(9.5).fillColor(INK).text('Change it before you first log in, with YubiKey Manager or OpenSC:', MARGIN, doc.y, { width });
  doc.moveDown(0.3);
  doc.font('Courier').fontSize(9.5).text('ykman piv access change-pin', MARGIN + 14, doc.y, { width: width - 14 });
  doc.text('pkcs15-tool --change-pin', MARGIN + 14, doc.y, { width: width - 14 });
  doc.moveDown(0.6);
  doc.font(SANS).fontSize(9.5).text('Never write your PIN on the card. After 3 wrong PINs the card locks: bring it to the helpdesk.', MARGIN, doc.y, { width });
}

/**
 * Characters of the person's name, the hosts and the helpdesk line that DejaVu Sans cannot draw (CJK, for one): the
 * page would show empty boxes there, so the run says so.
 */
export function unprintableCharacters(data: HandoutData): string[] {
  const text = [data.person, data.helpdesk ?? '', ...(data.hosts ?? []), data.caCertificate ?? ''].join(' ');
  return [...new Set([...missingCharacters(sansFont(400), text), ...missingCharacters(sansFont(700), data.person)])];
}

/** Renders the handout; resolves with the PDF's bytes. */
export function renderHandout(data: HandoutData): Promise<Uint8Array> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    info: { Title: `SSH login with your smart card: ${data.person}`, Author: 'piv-enroll', Creator: 'piv-enroll', Producer: 'piv-enroll (PDFKit)', CreationDate: data.createdAt },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Uint8Array>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    doc.on('error', reject);
  });
  doc.registerFont(SANS, sansFont(400));
  doc.registerFont(SANS_BOLD, sansFont(700));
  const width = doc.page.width - 2 * MARGIN;
  doc.font(SANS_BOLD).fontSize(17).fillColor(INK).text('Your smart card for SSH', MARGIN, MARGIN, { width });
  doc.font(SANS).fontSize(9).fillColor(MUTED).text(data.virtualCard ? 'A VIRTUAL TEST CARD, not a real card: for trying piv-enroll only.' : 'Keep this page. It holds no secret.', { width });
  doc.moveDown(0.6);
  drawFacts(doc, data, width);
  for (const section of loginInstructions({ algorithm: data.algorithm, hosts: data.hosts, caCertificate: data.caCertificate, helpdesk: data.helpdesk })) drawSection(doc, section, width);
  if (data.initialPin !== undefined) {
    doc.moveDown(0.6);
    doc.font(SANS_BOLD).fontSize(9).fillColor(INK).text('Your initial PIN is on the separate sheet that came with this page.', MARGIN, doc.y, { width });
    drawPinSheet(doc, data, width);
  }
  doc.end();
  return done;
}
