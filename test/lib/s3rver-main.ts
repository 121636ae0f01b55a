// Runs s3rver in its own process (so it has a core to itself) and prints {"port":N} once it listens.
// @ts-expect-error s3rver ships no type declarations
import S3rver from "s3rver"

const [directory, ...buckets] = process.argv.slice(2)
const server: { run(): Promise<unknown>; close(): Promise<void> } = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) })
const address = (await server.run()) as unknown as { port: number }
console.log(JSON.stringify({ port: address.port }))
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)))
