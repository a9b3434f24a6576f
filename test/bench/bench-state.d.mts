export const NATIVE_ADDONS: string[];
export function underCi(env?: NodeJS.ProcessEnv): boolean;
export function missingAddons(root: string): string[];
export function benchProblems(): string[];
export function mayInstall(): boolean;
