// gs:// objects through @google-cloud/storage (loaded on first use): stat, list, reads pinned by generation, upload.
import type { Storage as GcsClient } from "@google-cloud/storage"
import { ToolError } from "../errors.ts"
import { httpLimits } from "../util/http-limits.ts"
import { base64ToHex } from "./checksum.ts"
import { changed, denied, failed, missingCredentials, networkReason, notFound, unavailable, unreachable } from "./errors.ts"
import { bucketAndKey } from "./uri.ts"
import type { Adapter, AdapterContext, Entry, Env, ObjectInfo } from "./types.ts"

type Client = { client: GcsClient; endpoint: string }

/** The endpoint override (tests, emulators) and the credentials file, from the environment. */
export const gcsSettings = (env: Env) => ({
  apiEndpoint: env.MLPROJECT_GCS_ENDPOINT || env.STORAGE_EMULATOR_HOST || undefined,
  keyFilename: env.GOOGLE_APPLICATION_CREDENTIALS || undefined,
  projectId: env.GOOGLE_CLOUD_PROJECT || undefined,
  // Per request, as the SDK measures it; a read stream's stalls are the download engine's to catch.
  timeout: httpLimits(env).connectTimeoutMs,
})

const clients = new Map<string, Promise<Client>>()

const clientFor = (env: Env): Promise<Client> => {
  const settings = gcsSettings(env)
  const key = JSON.stringify(settings)
  const existing = clients.get(key)
  if (existing) return existing
  const created = (async (): Promise<Client> => {
    const { Storage } = await import("@google-cloud/storage")
    const client = new Storage({
      ...settings,
      // A custom endpoint is an emulator unless credentials are given: then they are sent there too.
      useAuthWithCustomEndpoint: settings.apiEndpoint !== undefined && settings.keyFilename !== undefined,
      retryOptions: { autoRetry: true, maxRetries: 3 },
    })
    return { client, endpoint: settings.apiEndpoint ?? "https://storage.googleapis.com" }
  })()
  clients.set(key, created)
  return created
}

const credentialsHint =
  "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run `gcloud auth application-default login`, or run where a service account is attached"

/** The SDK's errors (ApiError with an HTTP code, auth errors, socket errors) as ours; raw socket errors stay raw mid-stream. */
const mapError = (uri: string, error: unknown, client: Client, ctx: AdapterContext, midStream = false): unknown => {
  if (error instanceof ToolError || ctx.signal?.aborted) return error
  const e = error as { code?: number | string; message?: string }
  const status = typeof e.code === "number" ? e.code : undefined
  const message = e.message ?? String(error)
  if (/could not load the default credentials|could not refresh access token|unable to detect a project id/i.test(message)) {
    return missingCredentials(uri, "Google Cloud", credentialsHint)
  }
  if (status === 404) return notFound(uri)
  if (status === 412) return changed(uri)
  if (status === 401 || status === 403) {
    return denied(uri, `HTTP ${status}: ${message.split("\n")[0]}`, "check that the account in GOOGLE_APPLICATION_CREDENTIALS may read it (roles/storage.objectViewer)")
  }
  if (status !== undefined && (status >= 500 || status === 429)) return unavailable(uri, `HTTP ${status}`)
  if (midStream) return error
  if (status === undefined) return unreachable(uri, client.endpoint, networkReason(error), "check MLPROJECT_GCS_ENDPOINT (for emulators) and your network")
  return failed(uri, `HTTP ${status}: ${message}`, error)
}

const run = async <T>(uri: string, ctx: AdapterContext, work: (client: GcsClient) => Promise<T>): Promise<T> => {
  const client = await clientFor(ctx.env)
  try {
    return await work(client.client)
  } catch (error) {
    throw mapError(uri, error, client, ctx)
  }
}

type Metadata = { name?: string; size?: string | number; generation?: string | number; md5Hash?: string; crc32c?: string }

const infoOf = (uri: string, m: Metadata): ObjectInfo => ({
  uri,
  size: m.size === undefined ? null : Number(m.size),
  version: m.generation === undefined ? null : String(m.generation),
  ranges: true,
  ...(m.generation !== undefined ? { pin: String(m.generation) } : {}),
  // Composed objects have no MD5 but a CRC32C of the whole object; checkFor prefers the CRC32C anyway.
  checksums: { ...(m.md5Hash ? { md5: base64ToHex(m.md5Hash) } : {}), ...(m.crc32c ? { crc32c: m.crc32c } : {}) },
})

export const gcs: Adapter = {
  async stat(uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    if (key === "" || key.endsWith("/")) return null
    try {
      return await run(uri, ctx, async (client) => infoOf(uri, (await client.bucket(bucket).file(key).getMetadata())[0] as Metadata))
    } catch (error) {
      if (error instanceof ToolError && error.code === "storage.not_found") return null
      throw error
    }
  },
  async list(uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    const prefix = key === "" || key.endsWith("/") ? key : `${key}/`
    return run(uri, ctx, async (client) => {
      const [files] = await client.bucket(bucket).getFiles({ prefix, autoPaginate: true })
      return files
        .filter((file) => !file.name.endsWith("/"))
        .map((file): Entry => ({ path: file.name.slice(prefix.length), info: infoOf(`gs://${bucket}/${file.name}`, file.metadata as Metadata) }))
    })
  },
  async read(info, range, ctx) {
    const { bucket, key } = bucketAndKey(info.uri)
    const client = await clientFor(ctx.env)
    const file = client.client.bucket(bucket).file(key, info.pin ? { generation: Number(info.pin) } : {})
    // The engine checks the checksum over the whole object; the SDK's own check cannot see parts.
    const stream = file.createReadStream({ start: range.start, ...(range.end !== null ? { end: range.end - 1 } : {}), validation: false, decompress: false })
    const onAbort = () => stream.destroy(ctx.signal?.reason)
    ctx.signal?.addEventListener("abort", onAbort, { once: true })
    return (async function* () {
      try {
        for await (const chunk of stream) yield chunk as Uint8Array
      } catch (error) {
        throw mapError(info.uri, error, client, ctx, true)
      } finally {
        ctx.signal?.removeEventListener("abort", onAbort)
        stream.destroy()
      }
    })()
  },
  async upload(localPath, uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    await run(uri, ctx, async (client) => {
      await client.bucket(bucket).upload(localPath, { destination: key, resumable: false })
    })
  },
}
