// A TLS front for the real daemon: a CA, server and client certificates from openssl, and a relay that demands the client's.
import { copyFileSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { openssl, tlsCerts } from "./tls-certs.ts"

export type TlsDaemon = { host: string; certDir: string; requests: string[]; [Symbol.asyncDispose](): Promise<void> }

/** The shared test CA and certificates, plus cert.pem and key.pem (the client's, as DOCKER_CERT_PATH expects them). */
const makeCertificates = (): string => {
  const { dir } = tlsCerts()
  openssl(dir, ["rsa", "-in", "client-key.pem", "-out", "key.pem"])
  copyFileSync(join(dir, "client.pem"), join(dir, "cert.pem"))
  return dir
}

type Pipe = { queue: Uint8Array[]; target: { write(data: Uint8Array): number; end(): void } | null; ended: boolean }

/** Writes what the target accepts now and keeps the rest for its `drain`: a TLS socket takes partial writes. */
const flush = (pipe: Pipe) => {
  while (pipe.target && pipe.queue.length > 0) {
    const chunk = pipe.queue[0] as Uint8Array
    const written = pipe.target.write(chunk)
    if (written < chunk.length) {
      pipe.queue[0] = chunk.subarray(Math.max(0, written))
      return
    }
    pipe.queue.shift()
  }
  if (pipe.ended && pipe.queue.length === 0) pipe.target?.end()
}

/**
 * Listens on 127.0.0.1 with mutual TLS and relays the bytes of each connection to /var/run/docker.sock: a transparent
 * TLS terminator, so streamed answers (attach, wait) behave exactly as the daemon sends them.
 */
export const tlsDaemon = async (): Promise<TlsDaemon> => {
  const certDir = makeCertificates()
  const read = (name: string) => readFileSync(join(certDir, name), "utf8")
  const requests: string[] = []
  type State = { up: Pipe; down: Pipe }
  const listener = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: read("server.pem"), key: read("server-key.pem"), ca: read("ca.pem"), requestCert: true, rejectUnauthorized: true },
    socket: {
      open(client) {
        const state: State = { up: { queue: [], target: null, ended: false }, down: { queue: [], target: client, ended: false } }
        client.data = state
        void Bun.connect({
          unix: "/var/run/docker.sock",
          socket: {
            open(daemon) {
              state.up.target = daemon
              flush(state.up)
            },
            data(_daemon, chunk) {
              state.down.queue.push(new Uint8Array(chunk))
              flush(state.down)
            },
            drain: () => flush(state.up),
            close() {
              state.down.ended = true
              flush(state.down)
            },
          },
        })
      },
      data(client, chunk) {
        const line = /^([A-Z]+) (\S+) HTTP/.exec(new TextDecoder().decode(chunk.subarray(0, 300)))
        if (line) requests.push(`${line[1]} ${(line[2] as string).split("?")[0]}`)
        client.data.up.queue.push(new Uint8Array(chunk))
        flush(client.data.up)
      },
      drain: (client) => flush(client.data.down),
      close(client) {
        client.data.up.ended = true
        flush(client.data.up)
      },
    },
  })
  return {
    host: `tcp://127.0.0.1:${listener.port}`,
    certDir,
    requests,
    async [Symbol.asyncDispose]() {
      listener.stop(true)
      rmSync(certDir, { recursive: true, force: true })
    },
  }
}
