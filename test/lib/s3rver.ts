// s3rver on 127.0.0.1 in a child process, with a store folder tests can also fill directly (fast for big objects).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { writeLargeFile } from "./bytes.ts"

export type S3rver = {
  url: string
  directory: string
  /** Credentials s3rver accepts (it knows one key pair). */
  credentials: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string }
  /** Writes an object straight into the store, bypassing HTTP; returns its SHA-256 and MD5. `onBlock` sees its bytes as they are written. */
  writeObject(bucket: string, key: string, size: number, seed?: number, onBlock?: (bytes: Uint8Array) => void): { sha256: string; md5: string }
  /** Headers s3rver stores with an object and serves on HEAD and GET (e.g. `x-amz-checksum-crc64nvme`, see s3rver-main.ts). */
  setHeaders(bucket: string, key: string, headers: Record<string, string>): void
  [Symbol.asyncDispose](): Promise<void>
}

export const startS3rver = async (buckets: string[]): Promise<S3rver> => {
  const directory = mkdtempSync(join(tmpdir(), "mlproject-s3rver-"))
  for (const bucket of buckets) mkdirSync(join(directory, bucket), { recursive: true })
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "s3rver-main.ts"), directory, ...buckets], { stdout: "pipe", stderr: "inherit" })
  const reader = child.stdout.getReader()
  let text = ""
  while (!text.includes("\n")) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`s3rver exited before listening: ${text}`)
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  const { port } = JSON.parse(text) as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    directory,
    credentials: { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" },
    writeObject(bucket, key, size, seed = 7, onBlock) {
      // s3rver's file layout: <bucket>/<key>._S3rver_object, with the MD5 it serves as ETag in a sibling file.
      const path = join(directory, bucket, `${key}._S3rver_object`)
      mkdirSync(dirname(path), { recursive: true })
      const sums = writeLargeFile(path, size, seed, onBlock)
      writeFileSync(`${path}.md5`, sums.md5)
      return sums
    },
    setHeaders(bucket, key, headers) {
      writeFileSync(join(directory, bucket, `${key}._S3rver_metadata.json`), JSON.stringify(headers))
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM")
      await Promise.race([child.exited, Bun.sleep(2000)])
      child.kill("SIGKILL")
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
