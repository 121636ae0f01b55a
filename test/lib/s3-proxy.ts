// A loopback proxy in front of s3rver that checks SigV4 signatures (s3rver only checks the key id) and counts bytes.
import { SignatureV4 } from "@smithy/signature-v4"
import { createHash, createHmac } from "node:crypto"
import { loopback, type Loopback } from "./loopback.ts"

/** The sha256 constructor SignatureV4 wants: a hash, or an HMAC when given a secret. */
class Sha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === "string" ? secret : secret instanceof ArrayBuffer ? new Uint8Array(secret) : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
    this.hash = key === undefined ? createHash("sha256") : createHmac("sha256", key)
  }
  update(data: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash.update(typeof data === "string" ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest())
  }
}

const parseAuthorization = (header: string) => {
  const match = header.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/)
  if (!match) return null
  const [, accessKeyId, , region, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string]
  return { accessKeyId, region, signedHeaders: signedHeaders.split(";"), signature }
}

const signatureMismatch = () =>
  new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>`,
    { status: 403, headers: { "content-type": "application/xml" } },
  )

/** Recomputes the request's signature with the secret we know for its key id. */
const verify = async (request: Request, url: URL, secrets: Record<string, string>): Promise<boolean> => {
  const auth = parseAuthorization(request.headers.get("authorization") ?? "")
  if (!auth) return request.headers.get("authorization") === null
  const secret = secrets[auth.accessKeyId]
  // Unknown key ids go through: s3rver answers InvalidAccessKeyId itself.
  if (secret === undefined) return true
  const amzDate = request.headers.get("x-amz-date") ?? ""
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"))
  const headers: Record<string, string> = {}
  for (const name of auth.signedHeaders) headers[name] = request.headers.get(name) ?? ""
  const query: Record<string, string> = {}
  for (const [key, value] of url.searchParams) query[key] = value
  const signer = new SignatureV4({ credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: secret }, region: auth.region, service: "s3", sha256: Sha256, uriEscapePath: false, applyChecksum: true })
  const signed = await signer.sign(
    { method: request.method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers },
    { signingDate },
  )
  return String(signed.headers.authorization ?? signed.headers.Authorization).endsWith(`Signature=${auth.signature}`)
}

export type S3Proxy = Loopback & {
  bytesSent: number
  /** When set, response bodies are paced to about this many bytes per second (to leave time to kill a client). */
  bytesPerSecond: number | null
}

/** Forwards to `upstream`, refusing requests signed with the wrong secret; `bytesSent` counts response body bytes. */
export const s3Proxy = (upstream: string, secrets: Record<string, string>, tls?: { cert: string; key: string }): S3Proxy => {
  const proxy: S3Proxy = Object.assign(
    loopback(async (request, url, body) => {
      if (!(await verify(request, url, secrets))) return signatureMismatch()
      const headers = new Headers(request.headers)
      headers.delete("host")
      const response = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        body: request.method === "GET" || request.method === "HEAD" ? undefined : body,
        decompress: false,
      })
      const counted = response.body?.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, controller) {
            proxy.bytesSent += chunk.length
            controller.enqueue(chunk)
            if (proxy.bytesPerSecond) await Bun.sleep((chunk.length / proxy.bytesPerSecond) * 1000)
          },
        }),
      )
      return new Response(counted ?? null, { status: response.status, headers: response.headers })
    }, { tls }),
    { bytesSent: 0, bytesPerSecond: null },
  )
  return proxy
}
