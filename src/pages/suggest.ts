/** "Did you mean" for missing pages: the nearest existing paths by edit distance. */

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}

export function closestPaths(
  target: string,
  candidates: readonly string[],
  count: number,
): string[] {
  const folded = target.toLowerCase();
  const leaf = folded.split("/").at(-1) ?? folded;
  return candidates
    .map((candidate) => {
      const lower = candidate.toLowerCase();
      const candidateLeaf = lower.split("/").at(-1) ?? lower;
      const contains = lower.includes(leaf) || leaf.includes(candidateLeaf) ? -3 : 0;
      return {
        candidate,
        score:
          Math.min(editDistance(folded, lower), editDistance(leaf, candidateLeaf) + 1) + contains,
      };
    })
    .filter((entry) => entry.score <= Math.max(3, folded.length / 2))
    .sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((entry) => entry.candidate);
}
