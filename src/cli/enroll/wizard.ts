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
export async function askForMissing(options: EnrollOptions, inspection: CardInspection, missing: MissingInput[], prompter: Prompter): Promise<void> {
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
        prompter.say('The card still has the factory-default PIN: choose the user\'s PIN (6 to 8 characters).');
        secrets.newPin = await askNewSecret(prompter, 'PIN', checkNewPinValue);
        break;
      case 'new-puk':
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

function fail(message: string): never {
  throw new UsageError(message);
}
