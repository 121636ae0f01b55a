// The largest user-given numbers that still mean what they say where they land: a timer, an exact integer.

/**
 * setTimeout's longest delay, a signed 32-bit count of milliseconds: a longer one overflows and fires at once (Node and
 * Bun both, with only a warning), so `--grace 3000000` would kill at the first interrupt. Refused instead.
 */
export const maxTimerMs = 2 ** 31 - 1

/** The same in whole seconds, as flags and variables give it: 2147483 s. */
export const maxTimerSeconds = Math.floor(maxTimerMs / 1000)

/** How a range of seconds ending at the timer's limit is named in messages. */
export const timerLimitText = `${maxTimerSeconds} (about 24 days)`

/** A number of seconds as milliseconds when it is finite and within [min, maxTimerSeconds]; null otherwise. */
export const timerMs = (seconds: number, min = 0): number | null =>
  Number.isFinite(seconds) && seconds >= min && seconds <= maxTimerSeconds ? Math.round(seconds * 1000) : null
