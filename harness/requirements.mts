import { describe, it } from 'node:test';

export const RUNNING_IN_CI = /^(true|1)$/i.test(process.env.CI ?? '');

/**
 * describe() for tests that need what a developer's machine may lack (root,
 * a tool); `missing` says what is missing, or is undefined. In CI (CI=true)
 * nothing is skipped: the tests run, and fail with the reason. Anywhere else
 * they become one skipped test that says why (`# not run here: ...`),
 * counted as skipped in the summary.
 */
export function describeNeeding(missing: string | undefined, name: string, body: () => void): void {
  if (missing === undefined || RUNNING_IN_CI) describe(name, body);
  else it(name, { skip: `not run here: ${missing} (CI runs it)` }, () => {});
}

/** The `skip` option of a single test that needs what may be missing: the same rule as describeNeeding. */
export function notRunHere(missing: string | undefined): string | false {
  return missing !== undefined && !RUNNING_IN_CI ? `not run here: ${missing} (CI runs it)` : false;
}
