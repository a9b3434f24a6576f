/** What the doctor reports: findings with a severity and concrete advice. Plain data for text and JSON. */
export type Severity = 'ok' | 'warning' | 'problem';

export interface Finding {
  /** Stable identifier, for scripts reading --json. */
  id: string;
  area: 'card' | 'signatures' | 'host' | 'policy';
  severity: Severity;
  summary: string;
  advice?: string;
}

export function worst(findings: Finding[]): Severity {
  if (findings.some((f) => f.severity === 'problem')) return 'problem';
  if (findings.some((f) => f.severity === 'warning')) return 'warning';
  return 'ok';
}
