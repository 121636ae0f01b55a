// Runs s3rver in its own process (so it has a core to itself) and prints {"port":N} once it listens.
// @ts-expect-error s3rver ships no type declarations
import S3rver from "s3rver"
// @ts-expect-error s3rver ships no type declarations
import S3Object from "s3rver/lib/models/object.js"

// s3rver keeps and serves only the headers it knows; S3's checksums are added, so objects put with one (or
// written with one into the store, see s3rver.ts) answer HEAD and GET with `x-amz-checksum-*` as S3 does.
// Like COMPOSITE checksums of multipart uploads, they are stored as given, never computed: tests can lie.
;(S3Object.ALLOWED_METADATA as string[]).push(
  "x-amz-checksum-crc64nvme",
  "x-amz-checksum-crc32c",
  "x-amz-checksum-crc32",
  "x-amz-checksum-sha1",
  "x-amz-checksum-sha256",
  "x-amz-checksum-type",
)

const [directory, ...buckets] = process.argv.slice(2)
const server: { run(): Promise<unknown>; close(): Promise<void> } = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) })
const address = (await server.run()) as unknown as { port: number }
console.log(JSON.stringify({ port: address.port }))
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)))
