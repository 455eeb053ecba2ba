/** Durations in milliseconds, so code reads `10 * MINUTE` rather than a bare number. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** Unix seconds, the unit every timestamp column uses. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
