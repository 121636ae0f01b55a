// The limits every HTTP exchange runs under (time to an answer, silence, trickle, size) and the variables that set them.
import { ToolError } from "../errors.ts"
import { timerLimitText, timerMs } from "./ranges.ts"

type Env = Readonly<Record<string, string | undefined>>

export type HttpLimits = {
  /** Until the response headers arrive (MLPROJECT_HTTP_CONNECT_TIMEOUT). */
  connectTimeoutMs: number
  /** No byte of the body for this long ends it (MLPROJECT_HTTP_IDLE_TIMEOUT). */
  idleTimeoutMs: number
  /** Fewer bytes per second than this, averaged over `lowSpeedTimeMs`, end a body (MLPROJECT_HTTP_LOW_SPEED_LIMIT; 0: off). */
  lowSpeedBytes: number
  lowSpeedTimeMs: number
  /** An answer read into memory (JSON, text, an error page) may not exceed this (MLPROJECT_HTTP_MAX_RESPONSE_BYTES). */
  maxResponseBytes: number
  /** A download to disk may not exceed this; null: the free space of its file system (MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES). */
  maxDownloadBytes: number | null
}

export const limitVariables = {
  connectTimeoutMs: "MLPROJECT_HTTP_CONNECT_TIMEOUT",
  idleTimeoutMs: "MLPROJECT_HTTP_IDLE_TIMEOUT",
  lowSpeedBytes: "MLPROJECT_HTTP_LOW_SPEED_LIMIT",
  lowSpeedTimeMs: "MLPROJECT_HTTP_LOW_SPEED_TIME",
  maxResponseBytes: "MLPROJECT_HTTP_MAX_RESPONSE_BYTES",
  maxDownloadBytes: "MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES",
} as const

// A dead link or a stuck server is told from a slow one within a minute; 1 KiB/s for a minute is no working link;
// no JSON answer of any API we call comes near 64 MiB, while a runaway one would exhaust memory long after.
export const defaultLimits: HttpLimits = {
  connectTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  lowSpeedBytes: 1024,
  lowSpeedTimeMs: 60_000,
  maxResponseBytes: 64 * 1024 ** 2,
  maxDownloadBytes: null,
}

const number = (env: Env, name: string, check: (n: number) => boolean, expected: string): number | undefined => {
  const raw = env[name]
  if (raw === undefined || raw.trim() === "") return undefined
  const value = Number(raw)
  if (Number.isFinite(value) && check(value)) return value
  throw new ToolError("http.config.invalid", `${name}=${raw}: expected ${expected}`, { hint: `unset ${name} to use the default`, exitCode: 2 })
}

// Each of these ends up as a timer: past setTimeout's range it would fire at once instead of never.
const seconds = (env: Env, name: string, fallbackMs: number): number => {
  const value = number(env, name, (n) => n > 0 && timerMs(n) !== null, `seconds, more than 0 and at most ${timerLimitText}; fractions allowed`)
  return value === undefined ? fallbackMs : Math.round(value * 1000)
}

// Byte counts are compared exactly: past 2^53 a number no longer holds every whole value.
const bytes = (env: Env, name: string): number | undefined =>
  number(env, name, (n) => Number.isSafeInteger(n) && n > 0, `a whole number of bytes, from 1 to ${Number.MAX_SAFE_INTEGER}`)

/** The limits from the environment; an unusable value is an input error naming the variable. */
export const httpLimits = (env: Env): HttpLimits => ({
  connectTimeoutMs: seconds(env, limitVariables.connectTimeoutMs, defaultLimits.connectTimeoutMs),
  idleTimeoutMs: seconds(env, limitVariables.idleTimeoutMs, defaultLimits.idleTimeoutMs),
  lowSpeedBytes:
    number(env, limitVariables.lowSpeedBytes, (n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER, `bytes per second, from 0 (no check) to ${Number.MAX_SAFE_INTEGER}`) ?? defaultLimits.lowSpeedBytes,
  lowSpeedTimeMs: seconds(env, limitVariables.lowSpeedTimeMs, defaultLimits.lowSpeedTimeMs),
  maxResponseBytes: bytes(env, limitVariables.maxResponseBytes) ?? defaultLimits.maxResponseBytes,
  maxDownloadBytes: bytes(env, limitVariables.maxDownloadBytes) ?? defaultLimits.maxDownloadBytes,
})

/**
 * 67108864 → "64 MiB", 1536 → "1.5 KiB", 1500 → "1500 bytes": a limit is shown exactly, in the largest unit that
 * says it in at most one decimal; `about` rounds instead (free disk space).
 */
export const formatBytes = (n: number, about = false): string => {
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let shown = `${n} bytes`
  let value = n
  for (const unit of units) {
    value /= 1024
    if (value < 1) break
    if (about || Number.isInteger(value * 10)) shown = `${Number(value.toFixed(1))} ${unit}`
  }
  return shown
}

/** 60000 → "60 s", 500 → "0.5 s". */
export const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`
