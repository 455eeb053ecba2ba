/**
 * How much a write changed a page, in lines: what an agent needs to check its edit landed
 * (issue 13: a compact reply instead of the whole diff). Counts are those of a minimal line
 * diff (Myers, "An O(ND) Difference Algorithm", 1986), as `git diff --numstat` gives for
 * ordinary edits; a change too scattered to count cheaply is reported as its whole span.
 */
import { splitLines } from "./markdown.ts";

export interface LineChange {
  linesAdded: number;
  linesRemoved: number;
  /** 1-based line of the new text where the first difference is; null when nothing changed. */
  firstChangedLine: number | null;
}

/**
 * Edit distance beyond which counting stops. Myers costs O((N+M)·D); a 1 MB page rewritten
 * throughout would otherwise take seconds under the write gate, and such a change is reported
 * as "the span between the common start and end was replaced", which is then exact enough.
 */
const MAX_DISTANCE = 256;

export function lineChange(before: string | null, after: string): LineChange {
  const old = before === null ? [] : splitLines(before);
  const next = splitLines(after);
  let prefix = 0;
  while (prefix < old.length && prefix < next.length && old[prefix] === next[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < old.length - prefix &&
    suffix < next.length - prefix &&
    old[old.length - 1 - suffix] === next[next.length - 1 - suffix]
  ) {
    suffix++;
  }
  const removedSpan = old.length - prefix - suffix;
  const addedSpan = next.length - prefix - suffix;
  if (removedSpan === 0 && addedSpan === 0) {
    // Same lines; at most the final newline differs, which is a change of the last line.
    return before === after
      ? { linesAdded: 0, linesRemoved: 0, firstChangedLine: null }
      : { linesAdded: 1, linesRemoved: 1, firstChangedLine: Math.max(next.length, 1) };
  }
  const distance = editDistance(
    old.slice(prefix, old.length - suffix),
    next.slice(prefix, next.length - suffix),
  );
  const firstChangedLine = prefix + 1;
  if (distance === null) {
    return { linesAdded: addedSpan, linesRemoved: removedSpan, firstChangedLine };
  }
  // With only insertions and deletions: added - removed = addedSpan - removedSpan.
  return {
    linesAdded: (distance + addedSpan - removedSpan) / 2,
    linesRemoved: (distance - addedSpan + removedSpan) / 2,
    firstChangedLine,
  };
}

/** Myers' greedy forward search for the shortest edit script's length, or null past the cap. */
function editDistance(a: readonly string[], b: readonly string[]): number | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_DISTANCE);
  const offset = max + 1;
  const furthest = new Int32Array(2 * max + 3);
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      const down =
        k === -d || (k !== d && (furthest[offset + k - 1] ?? 0) < (furthest[offset + k + 1] ?? 0));
      let x = down ? (furthest[offset + k + 1] ?? 0) : (furthest[offset + k - 1] ?? 0) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      furthest[offset + k] = x;
      if (x >= n && y >= m) return d;
    }
  }
  return null;
}
