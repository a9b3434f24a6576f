export function sourceFiles(dir?: string): string[];
export function folderOf(file: string): string;
export function importsOf(file: string): Array<{ spec: string; file: string; line: string }>;
export function folderEdges(): Map<string, Set<string>>;
export const LAYERS: string[];
export function layerOf(folder: string): string;
export function layerEdges(): Map<string, Set<string>>;
