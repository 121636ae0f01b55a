// The shape every kind of cache entry under $MLPROJECT_HOME takes for `mlproject cache list|gc`: one adapter per kind.
import type { CacheEntryView } from "../events/event.ts"

export type { CacheEntryView }

/** One entry as a kind lists it: the view, plus whatever its adapter needs to remove it again. */
export type CacheEntry = CacheEntryView & { kind: string }

/** What removing one entry came to: gone, in use after all (a lease, a lock, a container), or changed since listed. */
export type RemoveVerdict = "removed" | "busy" | "kept"

export type CacheKind = {
  name: string
  /** Where its entries live (for people reading the listing). */
  root: string
  /** Every entry this tool made there; anything else in the folder is not listed and never removed. */
  list(): Promise<CacheEntry[]>
  /** Removes one listed entry unless it is in use now; never throws for an entry that vanished meanwhile. */
  remove(entry: CacheEntry): Promise<RemoveVerdict>
  /** Set when the kind could not be looked at (no Docker daemon): said in the listing, skipped by gc. */
  unavailable?: string
}
