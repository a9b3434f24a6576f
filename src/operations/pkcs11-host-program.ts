/**
 * The program of the PKCS#11 host process (pkcs11-host.ts starts it): it loads pkcs11js and the modules and
 * answers one call at a time. It runs as `node -e` with this function's source, so that the same code runs
 * from dist/ and, under the tests, from src/ (there is no compiled file next to a .ts file to start):
 * the function must stay self-contained, reaching other modules only through `requireModule` (and a coverage
 * tool that rewrites source would break it; V8's coverage does not).
 */

/** What the parent sends: `instance` numbers the pkcs11js PKCS11 objects (one per opened token). */
export interface HostRequest {
  id: number;
  instance: number;
  /**
   * `load` makes the instance and loads the module (args: [path, environment to set first]); `release` forgets it; the
   * rest are pkcs11js calls.
   */
  method: string;
  args: unknown[];
}

/** The answer: the call's value, or the message of what it threw (a module return code, "CKR_PIN_INCORRECT:160"). */
export type HostResponse = { id: number; value: unknown } | { id: number; error: string };

export function pkcs11HostProgram(requireModule: (id: string) => unknown, pkcs11jsPath: string): void {
  type Instance = Record<string, (...args: unknown[]) => unknown>;
  const { PKCS11 } = requireModule(pkcs11jsPath) as { PKCS11: new () => Instance };
  const instances = new Map<number, Instance>();
  // What this module's load sets (OPENSC_CONF, read by OpenSC's C_Initialize), over the environment we started with:
  // a variable the last module set and this one does not goes back to what it was.
  const started: Record<string, string | undefined> = {};
  const setEnvironment = (values: Record<string, string>): void => {
    for (const name of Object.keys(started)) {
      if (started[name] === undefined) delete process.env[name];
      else process.env[name] = started[name];
    }
    for (const [name, value] of Object.entries(values)) {
      if (!(name in started)) started[name] = process.env[name];
      process.env[name] = value;
    }
  };
  // A terminal's Ctrl-C reaches the whole process group: the parent decides (a card write must finish), not us.
  process.on('SIGINT', () => undefined);
  // The parent is gone (exited or killed): nothing will ask us anything again.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: HostRequest) => {
    let response: HostResponse;
    try {
      let value: unknown;
      if (message.method === 'load') {
        setEnvironment((message.args[1] ?? {}) as Record<string, string>);
        const instance = new PKCS11();
        instance.load!(message.args[0]);
        instances.set(message.instance, instance);
      } else if (message.method === 'release') {
        instances.delete(message.instance);
      } else {
        const instance = instances.get(message.instance);
        if (!instance) throw new Error('the module is not loaded');
        value = instance[message.method]!(...message.args);
      }
      response = { id: message.id, value };
    } catch (error) {
      // Only the message: pkcs11js's say which return code, never an argument (the PIN stays here).
      response = { id: message.id, error: error instanceof Error ? error.message : String(error) };
    }
    process.send!(response);
  });
}
