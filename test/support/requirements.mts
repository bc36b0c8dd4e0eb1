/**
 * For a test that needs what a developer's machine may lack (root, a tool).
 * In CI (CI=true) nothing is skipped: the test runs, and fails with the
 * reason. Anywhere else it is skipped, and says why: node:test prints the
 * reason beside the test (`# not run here: ...`) and counts it as skipped.
 * Pass the result as the `skip` option of describe() or it().
 */
export function unlessMissing(missing: string | undefined): string | false {
  if (missing === undefined || RUNNING_IN_CI) return false;
  return `not run here: ${missing} (CI runs it)`;
}

export const RUNNING_IN_CI = /^(true|1)$/i.test(process.env.CI ?? '');
