/** enroll's SSH CA step (--ca DIR and its flags): its secrets from the environment or files, else asked on a terminal. */
import { UsageError } from '../../errors.js';
import { prepareCaStep } from '../../operations/enroll/ca-step.js';
import type { EnrollCardRequest } from '../../operations/enroll/enroll-card.js';
import { secretFrom } from '../secrets.js';
import type { EnrollEnvironment } from './enroll.js';

export interface EnrollCaFlags {
  ca?: string;
  principals?: string;
  caValidity?: string;
  keyId?: string;
  caPassphraseFile?: string;
  caReader?: string;
  caPinFile?: string;
}

/** The CA step of --ca DIR: its secrets from the environment or files, else asked on a terminal once it is known which. */
export function caStepOf(flags: EnrollCaFlags & { out?: string }, dir: string, environment: Pick<EnrollEnvironment, 'env' | 'prompter'>, interactive: boolean): NonNullable<EnrollCardRequest['ca']> {
  const request = { dir, principals: flags.principals, validity: flags.caValidity };
  const ask = async (what: string): Promise<string | undefined> => (interactive ? environment.prompter.password(`${what[0]!.toUpperCase()}${what.slice(1)}:`) : undefined);
  return {
    request,
    prepare: async (subjectCn) => {
      const step = {
        ...request, keyId: flags.keyId, outDir: flags.out, caReader: flags.caReader,
        passphrase: await secretFrom(flags.caPassphraseFile, 'PIV_CA_PASSPHRASE', 'the CA passphrase', environment.env),
        caPin: await secretFrom(flags.caPinFile, 'PIV_CA_PIN', 'the PIN of the CA card', environment.env),
      };
      return prepareCaStep(step, subjectCn, ask);
    },
  };
}

/** The CA step's own flags need --ca. */
export function checkCaFlags(flags: EnrollCaFlags): void {
  const caOnly = [flags.principals && '--principals', flags.caValidity && '--ca-validity', flags.keyId && '--key-id', flags.caReader && '--ca-reader'].filter(Boolean);
  if (flags.ca === undefined && caOnly.length > 0) throw new UsageError(`${caOnly.join(', ')} only apply with --ca DIR`);
}

