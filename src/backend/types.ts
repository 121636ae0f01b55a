// The handle every backend returns for a started entry point.

export type RunOutcome = {
  /** The entry point's exit code, or null when a signal ended it. */
  exitCode: number | null
  signal: string | null
  /** The interrupt we received ("SIGINT", …), or null when the run ended by itself. */
  interrupted: string | null
}

export type RunHandle = {
  pid: number
  wait(): Promise<RunOutcome>
}
