// The shapes every storage adapter shares: object info, byte ranges, and the small adapter interface.
import type { Emit } from "../events/event.ts"
import type { ChecksumUsed, Checksums } from "./checksum.ts"
import { defaultLimits } from "../util/http-limits.ts"

export type Env = Record<string, string | undefined>

/** Bytes [start, end); `end` null means "to the end of an object of unknown size". */
export type Range = { start: number; end: number | null }

export type ObjectInfo = {
  /** The object's URI as the user would write it (never with credentials). */
  uri: string
  size: number | null
  /** What changes when the content changes (ETag, generation, mtime+size); null: no caching, no resume. */
  version: string | null
  /** Whole-object checksums the service publishes (see checksum.ts for their forms and the order they are used in). */
  checksums?: Checksums
  /** Why a checksum the service published cannot be used (a composite of parts), for the download.done event. */
  checksumNote?: string
  /** The service honours byte ranges, so parts can be fetched in parallel and resumed. */
  ranges: boolean
  /** Adapter-private token that pins reads to this exact version (S3 ETag, GCS generation, HTTP validator). */
  pin?: string
}

/** One object under a prefix: its path relative to the prefix ('/'-separated) and its info. */
export type Entry = { path: string; info: ObjectInfo }

export type AdapterContext = { env: Env; signal?: AbortSignal }

/** What a scheme must provide; the download engine, cache and events are shared on top of it. */
export type Adapter = {
  /** The object's info, or null when there is no such object (a prefix may still exist). */
  stat(uri: string, ctx: AdapterContext): Promise<ObjectInfo | null>
  /** Every object below `uri` taken as a folder, recursively; [] when there is none. */
  list(uri: string, ctx: AdapterContext): Promise<Entry[]>
  /** The bytes of `range` of exactly the version `info` describes; throws `storage.changed` if it moved on. */
  read(info: ObjectInfo, range: Range, ctx: AdapterContext): Promise<AsyncIterable<Uint8Array>>
  upload(localPath: string, uri: string, ctx: AdapterContext): Promise<void>
}

/** Knobs for the download engine; the defaults suit real networks, tests shrink them. */
export type Tuning = {
  /** Objects at least this large may be fetched as parallel ranged streams. */
  parallelThreshold: number
  /** Fixed mode: the part size; adaptive mode: the smallest range worth a stream of its own. */
  partSize: number
  /** Most parallel streams for one object (and objects at once for a prefix). */
  concurrency: number
  /** Start with one stream and add more only while they raise the throughput (see schedule.ts). */
  adaptive: boolean
  /** How long each adaptive throughput measurement lasts. */
  probeMs: number
  /** Retries of one part after a transient failure (each retry resumes where the part stopped). */
  retries: number
  /** A part whose stream delivers nothing for this long is abandoned and retried (MLPROJECT_HTTP_IDLE_TIMEOUT). */
  idleTimeoutMs: number
  /** A part that delivers fewer bytes per second over `windowMs` of waiting is abandoned and retried (MLPROJECT_HTTP_LOW_SPEED_*). */
  lowSpeed: { bytes: number; windowMs: number } | null
  /** An object of unknown size may not exceed this; null: the free space of the disk it lands on (MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES). */
  maxUnknownBytes: number | null
}

export const defaultTuning: Tuning = {
  parallelThreshold: 64 * 1024 * 1024,
  partSize: 16 * 1024 * 1024,
  concurrency: 8,
  adaptive: true,
  probeMs: 500,
  retries: 5,
  idleTimeoutMs: defaultLimits.idleTimeoutMs,
  lowSpeed: { bytes: defaultLimits.lowSpeedBytes, windowMs: defaultLimits.lowSpeedTimeMs },
  maxUnknownBytes: defaultLimits.maxDownloadBytes,
}

export type DownloadOptions = {
  env?: Env
  signal?: AbortSignal
  emit?: Emit
  /** Neither read nor fill the download cache. */
  noCache?: boolean
  /** Check the service's checksum (default true). */
  verify?: boolean
  tuning?: Partial<Tuning>
}

export type Downloaded = {
  /** The URI without credentials. */
  uri: string
  /** The local file, or folder for a prefix. */
  path: string
  bytes: number
  files: number
  /**
   * What changes when the content changes: the object's version (ETag, generation, mtime+size), for a prefix a digest
   * of every object's path and version; null when the service gives none (for an object or any object of a prefix).
   */
  version: string | null
  /** Every byte came from the download cache. */
  cached: boolean
  /** Bytes that crossed the network in this call (less than `bytes` after a resume or a cache hit). */
  fetched: number
  /** What the bytes were checked against when they were downloaded (for a cache hit: when the cache was filled). */
  checksum: ChecksumUsed
}
