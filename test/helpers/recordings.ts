/**
 * The recordings of what pg_auto_failover 2.0 prints
 * (/work/shared/reference/pgaf-2.0/<name>.out). Tests that compare output
 * byte for byte skip, with a reason, on a machine without them.
 */
import { readFileSync } from 'node:fs';

export const REFERENCE = '/work/shared/reference/pgaf-2.0';

/** The text of a recording; undefined when it is not there. */
export function reference(name: string): string | undefined {
  try {
    return readFileSync(`${REFERENCE}/${name}.out`, 'utf8');
  } catch {
    return undefined;
  }
}

/** For `it(..., { skip })`: a reason when the recording is missing, else false. */
export const noReference = (name: string): false | string => reference(name) === undefined && 'no reference recordings';
