/**
 * The enrollment wizard's questions: on a terminal, what the plan still needs is asked for, in the order a person
 * expects (replace the slot? who is it for? then the secrets). Missing inputs come as typed keys from the plan.
 */
import { UsageError } from '../../errors.js';
import { describeKey } from '../../crypto/keys.js';
import { checkNewPinValue, subjectForPolicyUser } from '../../operations/enroll/enroll-inputs.js';
import type { CardInspection } from '../../operations/enroll/inspect.js';
import type { EnrollOptions } from '../../operations/enroll/options.js';
import type { MissingInput } from '../../operations/enroll/plan.js';
import { readPrivateKeyFile } from '../../operations/key-file.js';
import { askNewSecret, type Prompter } from '../prompter.js';
import { randomPin, randomPuk, weakDigitsReason } from '../../operations/secrets/random-secrets.js';
import { parseManagementKey } from '../secrets.js';

/** How each missing input is named to someone who has to supply it without a terminal. */
export const MISSING_INPUT_WORDS: Record<MissingInput, string> = {
  subject: 'the certificate subject (--user NAME or --subject "CN=…")',
  pin: 'the PIN (PIV_PIN or --pin-file)',
  'new-pin': 'a new PIN (PIV_NEW_PIN or --new-pin-file)',
  'new-puk': 'a new PUK (PIV_NEW_PUK or --new-puk-file)',
  'management-key': 'the management key (PIV_MANAGEMENT_KEY or --management-key-file)',
  'backup-passphrase': 'a passphrase for the key backup (PIV_KEY_PASSPHRASE or --passphrase-file)',
  'import-passphrase': 'the passphrase of the key to import (PIV_KEY_PASSPHRASE or --passphrase-file)',
};

/** Asks for what is missing; the answers go into `options` (checked as flags would be). */
/** `canHandOut`: a generated PIN can reach its owner (the terminal, --pin-out), so the wizard may offer one. */
export async function askForMissing(options: EnrollOptions, inspection: CardInspection, missing: MissingInput[], prompter: Prompter, canHandOut = false): Promise<void> {
  const occupied = inspection.slot.hasKey === true && inspection.slot.certificateMatchesKey === true;
  if (occupied && !options.force) {
    const what = `${inspection.slot.keyAlgorithm?.name ?? 'a'} key${inspection.slot.certificateSubject ? ` with certificate ${inspection.slot.certificateSubject}` : ''}`;
    prompter.say(`Slot ${options.slot.toString(16).toUpperCase()} already holds an ${what}. Replacing it makes that key unusable everywhere it was deployed.`);
    options.force = await prompter.confirm('Replace it?', false);
  }
  const { secrets } = options;
  for (const input of missing) {
    switch (input) {
      case 'subject': {
        const user = (await prompter.input('Who is this card for (user name, goes into the certificate as CN)?')).trim();
        if (user !== '') options.subject = subjectForPolicyUser(user, options.policy);
        break;
      }
      case 'pin':
        secrets.pin = await prompter.password('PIN:');
        break;
      case 'new-pin':
        if (!canHandOut) {
          prompter.say('The card still has the factory-default PIN: its owner types their own PIN now (6 to 8 characters, hidden).');
          secrets.newPin = await askNewSecret(prompter, 'PIN', checkOwnPin);
          break;
        }
        prompter.say('The card still has the factory-default PIN: its owner types their own PIN now (6 to 8 characters, hidden), or piv-enroll draws a random one and shows it once.');
        if (await prompter.confirm('Let the owner type their own PIN?', true)) secrets.newPin = await askNewSecret(prompter, 'PIN', checkOwnPin);
        else (secrets.newPin = randomPin(), (options.generated = { ...options.generated, pin: true }));
        break;
      case 'new-puk':
        if (options.escrowRecipients) {
          // Nobody needs to know it: the escrow keeps it for the helpdesk.
          prompter.say('The card still has the factory-default PUK: it gets a random PUK, kept only in the escrow.');
          secrets.newPuk = randomPuk();
          options.generated = { ...options.generated, puk: true };
          break;
        }
        prompter.say('The card still has the factory-default PUK: choose a PUK (6 to 8 characters), kept by IT to unblock the PIN.');
        secrets.newPuk = await askNewSecret(prompter, 'PUK', checkNewPinValue);
        break;
      case 'management-key':
        secrets.managementKey = parseManagementKey(await prompter.password('Management key (hex):'));
        break;
      case 'backup-passphrase':
        secrets.keyPassphrase = await askNewSecret(prompter, 'backup passphrase', (v) => (v.length < 8 ? 'at least 8 characters' : undefined));
        break;
      case 'import-passphrase':
        if (options.keySource.kind !== 'import') break;
        secrets.keyPassphrase = await prompter.password(`Passphrase of ${options.keySource.file}:`);
        // Still before anything is written: a wrong passphrase stops here.
        options.keySource.privateKey = await readPrivateKeyFile(options.keySource.file, secrets.keyPassphrase);
        options.algorithm = describeKey(options.keySource.privateKey) ?? fail(`${options.keySource.file} holds a key a PIV slot cannot hold`);
        break;
    }
  }
}

/** A PIN a person chooses: what any new PIN must be, and not one of the first guesses (123456, 000000, 654321…). */
function checkOwnPin(value: string): string | undefined {
  const problem = checkNewPinValue(value);
  if (problem) return problem;
  const weak = weakDigitsReason(value);
  return weak ? `that PIN is among the first an attacker would try (${weak})` : undefined;
}

function fail(message: string): never {
  throw new UsageError(message);
}
