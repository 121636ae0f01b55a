// "Did you mean …?": the known name nearest to a mistyped one, by Damerau-Levenshtein distance, for every suggestion.

/**
 * Edits (insert, delete, substitute, swap two neighbours) between two strings: the optimal-string-alignment form of
 * Damerau-Levenshtein, so `shuot` is one edit from `shout`, as a typing slip is.
 */
export const editDistance = (a: string, b: string): number => {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      const row = rows[i] as number[]
      const above = rows[i - 1] as number[]
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1)
      row[j] = best
    }
  }
  return (rows[a.length] as number[])[b.length] as number
}

/**
 * The candidate nearest to `name` (case and `-`/`_` ignored), or undefined when none is near enough: at most one edit
 * per three characters of the name, at least one (cargo's rule), so `alph` finds `alpha` but `lr` finds nothing.
 * Ties go to the earlier candidate; `name` itself is never suggested.
 */
export const closest = (name: string, candidates: Iterable<string>): string | undefined => {
  const fold = (text: string) => text.toLowerCase().replaceAll("_", "-")
  const wanted = fold(name)
  const limit = Math.max(1, Math.floor(Math.max(wanted.length, 3) / 3))
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    if (candidate === name) continue
    const distance = editDistance(wanted, fold(candidate))
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance }
  }
  return best?.candidate
}
