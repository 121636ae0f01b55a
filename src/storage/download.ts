// Storage operations by URI scheme: stat, download (cached, resumable, verified, with progress), prefixes, upload.
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { untilAborted } from "../util/abort.ts"
import { isAbort } from "../util/http.ts"
import { httpLimits } from "../util/http-limits.ts"
import { throughCache, type CacheResult } from "./cache.ts"
import type { ChecksumUsed } from "./checksum.ts"
import { failed, interrupted, networkReason, notFound, unsupportedScheme } from "./errors.ts"
import { progressFor, type Progress } from "./progress.ts"
import { pool } from "./schedule.ts"
import { transfer } from "./transfer.ts"
import { isFolderUri, safeRelative, schemeOf } from "./uri.ts"
import { redactUrl } from "../util/redact.ts"
import { defaultTuning, type Adapter, type AdapterContext, type DownloadOptions, type Downloaded, type ObjectInfo } from "./types.ts"

// Each adapter module is loaded on first use, and the SDKs only inside them: startup stays small.
const adapters: Record<string, () => Promise<Adapter>> = {
  s3: async () => (await import("./s3.ts")).s3,
  gs: async () => (await import("./gcs.ts")).gcs,
  dbfs: async () => (await import("./dbfs.ts")).dbfs,
  http: async () => (await import("./http-store.ts")).http,
  https: async () => (await import("./http-store.ts")).http,
  file: async () => (await import("./local.ts")).local,
}

export const supportedSchemes = Object.keys(adapters)

export const adapterFor = async (uri: string): Promise<Adapter> => {
  const scheme = schemeOf(uri) ?? "file"
  const load = adapters[scheme]
  if (!load) throw unsupportedScheme(uri, scheme)
  return load()
}

/** Our errors pass through; an abort becomes `interrupted`; anything else is reported as a failure of this URI. */
const guarded = async <T>(uri: string, ctx: AdapterContext, work: () => Promise<T>): Promise<T> => {
  try {
    return await work()
  } catch (error) {
    if (error instanceof ToolError) throw error
    if (ctx.signal?.aborted || isAbort(error)) throw interrupted(uri)
    throw failed(uri, networkReason(error), error)
  }
}

const contextOf = (options: DownloadOptions): AdapterContext => ({ env: options.env ?? process.env, signal: options.signal })

// A metadata call ends at an interrupt even where the SDK underneath keeps waiting (GCS's take no signal);
// transfers stop by themselves and clean up first, so they are not raced.
const statOf = (adapter: Adapter, uri: string, ctx: AdapterContext) => untilAborted(adapter.stat(uri, ctx), ctx.signal)
const listOf = (adapter: Adapter, uri: string, ctx: AdapterContext) => untilAborted(adapter.list(uri, ctx), ctx.signal)

/** The object's info; `storage.not_found` when there is none. */
export const stat = async (uri: string, options: DownloadOptions = {}): Promise<ObjectInfo> => {
  const ctx = contextOf(options)
  const adapter = await adapterFor(uri)
  const info = await guarded(uri, ctx, () => statOf(adapter, uri, ctx))
  if (info === null) throw notFound(uri)
  return info
}

/** One object to `dest` through the cache; an object replaced mid-way is fetched again once, as its new version. */
const fetchObject = async (adapter: Adapter, info: ObjectInfo, dest: string, options: DownloadOptions, progress: Progress): Promise<CacheResult> => {
  const ctx = contextOf(options)
  const limits = httpLimits(ctx.env)
  const fromLimits = {
    idleTimeoutMs: limits.idleTimeoutMs,
    lowSpeed: limits.lowSpeedBytes > 0 ? { bytes: limits.lowSpeedBytes, windowMs: limits.lowSpeedTimeMs } : null,
    maxUnknownBytes: limits.maxDownloadBytes,
  }
  const tuning = { ...defaultTuning, ...fromLimits, ...options.tuning }
  let current = info
  for (let round = 0; ; round++) {
    let counted = 0
    try {
      return await guarded(info.uri, ctx, () =>
        throughCache(current, dest, { env: ctx.env, signal: ctx.signal, noCache: options.noCache ?? false }, (path) =>
          transfer(adapter, current, path, {
            ctx,
            tuning,
            verify: options.verify ?? true,
            onBytes: (n) => ((counted += n), progress.add(n)),
            onResumed: (n) => ((counted += n), progress.skip(n)),
          }),
        ),
      )
    } catch (error) {
      if (!(error instanceof ToolError && error.code === "storage.changed") || round > 0) throw error
      progress.add(-counted)
      const fresh = await guarded(info.uri, ctx, () => statOf(adapter, info.uri, ctx))
      if (fresh === null) throw notFound(info.uri, "it was deleted while being downloaded")
      current = fresh
    }
  }
}

const started = (options: DownloadOptions, uri: string, path: string, bytes: number | null) =>
  options.emit?.({ type: "download.started", uri: redactUrl(uri), path, bytes })

const done = (options: DownloadOptions, result: Downloaded, since: number, note?: string) =>
  options.emit?.({
    type: "download.done",
    uri: result.uri,
    path: result.path,
    bytes: result.bytes,
    cached: result.cached,
    ms: Math.round(performance.now() - since),
    checksum: result.checksum,
    ...(note ? { checksum_note: note } : {}),
  })

/** Downloads the object `info` describes to `dest`, emitting download.started, progress and download.done. */
export const downloadObject = async (info: ObjectInfo, dest: string, options: DownloadOptions = {}): Promise<Downloaded> => {
  const since = performance.now()
  const adapter = await adapterFor(info.uri)
  started(options, info.uri, dest, info.size)
  const progress = progressFor(options.emit, `download ${redactUrl(info.uri)}`, info.size)
  const result = await fetchObject(adapter, info, dest, options, progress)
  if (!result.cached) progress.finish()
  const downloaded = { uri: redactUrl(info.uri), path: dest, bytes: result.bytes, files: 1, version: info.version, cached: result.cached, fetched: result.fetched, checksum: result.checksum }
  done(options, downloaded, since, options.verify === false ? undefined : info.checksumNote)
  return downloaded
}

/** Downloads one object (not a prefix) to `dest`. */
export const download = async (uri: string, dest: string, options: DownloadOptions = {}): Promise<Downloaded> =>
  downloadObject(await stat(uri, options), dest, options)

/** A prefix's version: every object's relative path and version, digested; null when any object has none. */
const prefixVersion = (entries: Array<{ path: string; info: ObjectInfo }>): string | null => {
  if (entries.some((entry) => entry.info.version === null)) return null
  const lines = entries.map((entry) => `${entry.path}\t${entry.info.version}`).sort()
  return `prefix-sha256:${new Bun.CryptoHasher("sha256").update(lines.join("\n")).digest("hex")}`
}

/** Downloads every object below `uri` into `destDir`, keeping their relative paths; one progress for the whole prefix. */
export const downloadPrefix = async (uri: string, destDir: string, options: DownloadOptions = {}): Promise<Downloaded> => {
  const since = performance.now()
  const ctx = contextOf(options)
  const adapter = await adapterFor(uri)
  const entries = await guarded(uri, ctx, () => listOf(adapter, uri, ctx))
  if (entries.length === 0) throw notFound(uri, "no objects below this prefix")
  const files = entries.map((entry) => ({ info: entry.info, dest: join(destDir, safeRelative(entry.path, entry.info.uri)) }))
  const total = entries.every((entry) => entry.info.size !== null) ? entries.reduce((sum, entry) => sum + (entry.info.size ?? 0), 0) : null
  mkdirSync(destDir, { recursive: true })
  started(options, uri, destDir, total)
  const progress = progressFor(options.emit, `download ${redactUrl(uri)}`, total)
  let bytes = 0
  let fetched = 0
  let allCached = true
  const checks = new Set<ChecksumUsed>()
  await pool(
    files,
    options.tuning?.concurrency ?? defaultTuning.concurrency,
    async (file, signal) => {
      mkdirSync(dirname(file.dest), { recursive: true })
      const result = await fetchObject(adapter, file.info, file.dest, { ...options, signal }, progress)
      bytes += result.bytes
      fetched += result.fetched
      allCached &&= result.cached
      checks.add(result.checksum)
      if (result.cached) progress.skip(result.bytes)
    },
    options.signal,
  )
  progress.finish()
  const checksum: ChecksumUsed = checks.size === 1 ? ([...checks][0] as ChecksumUsed) : "mixed"
  const downloaded = { uri: redactUrl(uri), path: destDir, bytes, files: files.length, version: prefixVersion(entries), cached: allCached, fetched, checksum }
  done(options, downloaded, since)
  return downloaded
}

/**
 * Downloads `uri` to `dest` whatever it names: an object becomes the file `dest`; a folder (a trailing
 * slash, or a name with no object but objects below it) becomes the folder `dest`.
 */
export const downloadUri = async (uri: string, dest: string, options: DownloadOptions = {}): Promise<Downloaded> => {
  if (isFolderUri(uri)) return downloadPrefix(uri, dest, options)
  const ctx = contextOf(options)
  const adapter = await adapterFor(uri)
  const info = await guarded(uri, ctx, () => statOf(adapter, uri, ctx))
  if (info !== null) return downloadObject(info, dest, options)
  return downloadPrefix(`${uri}/`, dest, options).catch((error) => {
    throw error instanceof ToolError && error.code === "storage.not_found" ? notFound(uri) : error
  })
}

/** Uploads a local file to `uri`. */
export const upload = async (localPath: string, uri: string, options: Pick<DownloadOptions, "env" | "signal"> = {}): Promise<void> => {
  const ctx = contextOf(options)
  const adapter = await adapterFor(uri)
  // An SDK upload may take no signal (GCS): the interrupt ends the wait for it all the same.
  await guarded(uri, ctx, () => untilAborted(adapter.upload(localPath, uri, ctx), ctx.signal))
}
