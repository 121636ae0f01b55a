// s3:// objects through @aws-sdk/client-s3 (loaded on first use): stat, list, ranged reads pinned by ETag, upload.
import type { S3Client } from "@aws-sdk/client-s3"
import { readFileSync, statSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { byteRange } from "../util/http-range.ts"
import { httpLimits } from "../util/http-limits.ts"
import { changed, denied, failed, missingCredentials, networkReason, notFound, unavailable, unreachable } from "./errors.ts"
import type { ChecksumAlgorithm, Checksums } from "./checksum.ts"
import { readIni } from "./ini.ts"
import { bucketAndKey } from "./uri.ts"
import type { Adapter, AdapterContext, Entry, Env, ObjectInfo } from "./types.ts"

type Sdk = typeof import("@aws-sdk/client-s3")
type Client = { sdk: Sdk; client: S3Client; endpoint: string }

const truthy = (value: string | undefined): boolean => ["1", "true", "yes"].includes((value ?? "").toLowerCase())

const profileRegion = (env: Env): string | undefined => {
  const profile = env.AWS_PROFILE || "default"
  const config = readIni(env.AWS_CONFIG_FILE || join(env.HOME ?? homedir(), ".aws", "config"))
  return config?.[profile === "default" ? "default" : `profile ${profile}`]?.region
}

/** Everything that selects a client, read from the environment the way boto3 and MLflow read it. */
export const s3Settings = (env: Env) => {
  const endpoint = env.MLFLOW_S3_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || profileRegion(env) || "us-east-1",
    profile: env.AWS_PROFILE || undefined,
    ignoreTls: truthy(env.MLFLOW_S3_IGNORE_TLS),
    // boto3's variable for a private CA, so an endpoint that works for MLflow works here.
    caBundle: env.AWS_CA_BUNDLE || undefined,
    // The SDK's request timeout runs until the response headers, like our connect timeout; bodies are the engine's to watch.
    requestTimeoutMs: httpLimits(env).connectTimeoutMs,
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined }
        : undefined,
  }
}

const clients = new Map<string, Promise<Client>>()

const createClient = async (settings: ReturnType<typeof s3Settings>): Promise<Client> => {
  const sdk = await import("@aws-sdk/client-s3")
  const { FetchHttpHandler } = await import("@smithy/fetch-http-handler")
  const tls = settings.ignoreTls ? { rejectUnauthorized: false } : settings.caBundle ? { ca: readFileSync(settings.caBundle, "utf8") } : undefined
  const client = new sdk.S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    // S3-compatible servers (MinIO, Ceph, s3rver) are addressed by path, not by a bucket subdomain.
    forcePathStyle: settings.endpoint !== undefined,
    profile: settings.profile,
    credentials: settings.credentials,
    // Checksums only when the API requires them: servers that store `aws-chunked` framing verbatim corrupt data otherwise.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    followRegionRedirects: true,
    maxAttempts: 4,
    // Bun's fetch is faster and leaner than node:http under Bun. Its own options (raw bytes; the TLS choice)
    // go to fetch() itself: a Request object drops them.
    requestHandler: new FetchHttpHandler({
      requestTimeout: settings.requestTimeoutMs,
      customFetch: ((request: Request) => fetch(request, { decompress: false, ...(tls ? { tls } : {}) })) as typeof fetch,
    }),
  })
  return { sdk, client, endpoint: settings.endpoint ?? `https://s3.${settings.region}.amazonaws.com` }
}

const clientFor = (env: Env): Promise<Client> => {
  const settings = s3Settings(env)
  const key = JSON.stringify(settings)
  const existing = clients.get(key)
  if (existing) return existing
  const created = createClient(settings)
  clients.set(key, created)
  return created
}

const credentialsHint =
  "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), or run where an instance or pod role provides them"

/** The SDK's many error shapes as our errors; raw aborts pass through for the engine to judge. */
const mapError = (uri: string, error: unknown, client: Client, ctx: AdapterContext): unknown => {
  if (error instanceof ToolError || ctx.signal?.aborted) return error
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
  const name = e.name ?? "Error"
  const status = e.$metadata?.httpStatusCode
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(e.message ?? "")) return missingCredentials(uri, "AWS", credentialsHint)
  if (name === "NoSuchBucket") return notFound(uri, `bucket '${bucketAndKey(uri).bucket}' does not exist`)
  if (status === 404 || name === "NoSuchKey" || name === "NotFound") return notFound(uri)
  if (status === 412 || name === "PreconditionFailed") return changed(uri)
  if (name === "InvalidAccessKeyId") return denied(uri, name, `${client.endpoint} does not know this access key id: check AWS_ACCESS_KEY_ID or the profile`)
  if (name === "SignatureDoesNotMatch") return denied(uri, name, "the secret key does not match the access key id: check AWS_SECRET_ACCESS_KEY or the profile")
  if (status === 401 || status === 403) {
    return denied(uri, `${name}, HTTP ${status}`, "these credentials may not read it: check the bucket policy and IAM permissions (s3:GetObject, s3:ListBucket)")
  }
  if (status !== undefined && (status >= 500 || status === 429)) return unavailable(uri, `${name}, HTTP ${status}`)
  if (status === undefined) {
    const reason = networkReason(error)
    const hint = /cert|ssl|tls|self.signed/i.test(`${reason} ${e.message}`)
      ? "the endpoint's TLS certificate is not trusted: point AWS_CA_BUNDLE at its CA, or set MLFLOW_S3_IGNORE_TLS=true (no verification)"
      : "check MLFLOW_S3_ENDPOINT_URL / AWS_ENDPOINT_URL (for S3-compatible servers) and your network"
    return unreachable(uri, client.endpoint, reason, hint)
  }
  return failed(uri, `${name}: ${e.message ?? ""} (HTTP ${status})`, error)
}

const run = async <T>(uri: string, ctx: AdapterContext, work: (client: Client) => Promise<T>): Promise<T> => {
  const client = await clientFor(ctx.env)
  try {
    return await work(client)
  } catch (error) {
    throw mapError(uri, error, client, ctx)
  }
}

/** An ETag is the MD5 of the bytes only for single-part objects not encrypted with KMS or a customer key. */
const md5FromEtag = (etag: string | undefined, encryption: string | undefined, customerKey: string | undefined): string | undefined => {
  const hex = etag?.replace(/"/g, "")
  if (!hex || !/^[0-9a-f]{32}$/i.test(hex) || encryption?.startsWith("aws:kms") || customerKey) return undefined
  return hex.toLowerCase()
}

type HeadChecksums = { ChecksumCRC64NVME?: string; ChecksumCRC32C?: string; ChecksumCRC32?: string; ChecksumSHA1?: string; ChecksumSHA256?: string; ChecksumType?: string }

/**
 * The `x-amz-checksum-*` values a HEAD with `ChecksumMode: ENABLED` returns, when they cover the whole object.
 * A multipart upload's COMPOSITE checksum (a checksum of the parts' checksums, written `…-N`) does not: it is
 * left out, and the note says so.
 */
export const checksumsOf = (head: HeadChecksums): { checksums: Checksums; note: string | null } => {
  const published: Array<[ChecksumAlgorithm, string | undefined]> = [
    ["crc64nvme", head.ChecksumCRC64NVME],
    ["crc32c", head.ChecksumCRC32C],
    ["crc32", head.ChecksumCRC32],
    ["sha1", head.ChecksumSHA1],
    ["sha256", head.ChecksumSHA256],
  ]
  const checksums: Checksums = {}
  const composite: string[] = []
  for (const [algorithm, value] of published) {
    if (!value) continue
    if (head.ChecksumType === "COMPOSITE" || /-\d+$/.test(value)) composite.push(algorithm)
    else checksums[algorithm] = value
  }
  const note = composite.length ? `the service's ${composite.join(", ")} is a composite of the upload's parts, not of the whole object` : null
  return { checksums, note }
}

export const s3: Adapter = {
  async stat(uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    if (key === "" || key.endsWith("/")) return null
    try {
      return await run(uri, ctx, async ({ sdk, client }) => {
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }), { abortSignal: ctx.signal })
        const { checksums, note } = checksumsOf(head)
        const md5 = md5FromEtag(head.ETag, head.ServerSideEncryption, head.SSECustomerAlgorithm)
        if (md5) checksums.md5 = md5
        const info: ObjectInfo = {
          uri,
          size: head.ContentLength ?? null,
          version: head.ETag ?? (head.LastModified ? `${head.LastModified.toISOString()} ${head.ContentLength}` : null),
          ranges: true,
          ...(head.ETag ? { pin: head.ETag } : {}),
          checksums,
          ...(note ? { checksumNote: note } : {}),
        }
        return info
      })
    } catch (error) {
      if (error instanceof ToolError && error.code === "storage.not_found") return null
      if (error instanceof ToolError && error.code === "storage.denied") {
        // A HEAD answer has no body, so which refusal it was (key id, secret, policy) takes a one-byte GET to learn.
        await run(uri, ctx, async ({ sdk, client }) => {
          const probe = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-0" }), { abortSignal: ctx.signal })
          await (probe.Body as ReadableStream | undefined)?.cancel?.()
        })
      }
      throw error
    }
  },
  async list(uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    const prefix = key === "" || key.endsWith("/") ? key : `${key}/`
    return run(uri, ctx, async ({ sdk, client }) => {
      const entries: Entry[] = []
      let token: string | undefined
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: ctx.signal })
        for (const object of page.Contents ?? []) {
          // Zero-byte keys ending in '/' are folder markers made by consoles, not files.
          if (!object.Key || object.Key.endsWith("/")) continue
          // Listings carry no encryption details, so the ETag serves as version only, not as an MD5.
          const info: ObjectInfo = { uri: `s3://${bucket}/${object.Key}`, size: object.Size ?? null, version: object.ETag ?? null, ranges: true }
          entries.push({ path: object.Key.slice(prefix.length), info: object.ETag ? { ...info, pin: object.ETag } : info })
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return entries
    })
  },
  async read(info, range, ctx) {
    const { bucket, key } = bucketAndKey(info.uri)
    return run(info.uri, ctx, async ({ sdk, client }) => {
      const command = new sdk.GetObjectCommand({ Bucket: bucket, Key: key, Range: byteRange(range.start, range.end), IfMatch: info.pin })
      const output = await client.send(command, { abortSignal: ctx.signal })
      return output.Body as unknown as AsyncIterable<Uint8Array>
    })
  },
  async upload(localPath, uri, ctx) {
    const { bucket, key } = bucketAndKey(uri)
    const size = statSync(localPath).size
    const partSize = 16 * 1024 * 1024
    await run(uri, ctx, async ({ sdk, client }) => {
      const options = { abortSignal: ctx.signal }
      // Bodies as bytes: over plain http the SDK signs the payload's hash, which a stream cannot give it.
      if (size <= 4 * partSize) {
        await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: await Bun.file(localPath).bytes() }), options)
        return
      }
      const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), options)
      try {
        const parts: Array<{ ETag: string | undefined; PartNumber: number }> = []
        for (let offset = 0, number = 1; offset < size; offset += partSize, number++) {
          const Body = await Bun.file(localPath).slice(offset, offset + partSize).bytes()
          const part = await client.send(new sdk.UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: number, Body }), options)
          parts.push({ ETag: part.ETag, PartNumber: number })
        }
        await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }), options)
      } catch (error) {
        await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {})
        throw error
      }
    })
  },
}
