// One check of an evidence package as the report and verify-package show it. Its own module so
// that the checks of each part (fabric.ts, checks.ts) share the shape without importing each other.

export type CheckStatus = 'pass' | 'fail' | 'skipped' | 'warn';

export interface PackageCheck {
  id: string;
  zh: string;
  en: string;
  /** The standard or specification the check follows. */
  standard: string;
  status: CheckStatus;
  code?: string;
  detail?: string;
  /** Shell commands (run in the unpacked package's folder) that repeat the check with outside tools. */
  commands: string[];
}
