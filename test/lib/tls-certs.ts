// Throwaway TLS material from openssl: a CA, a server certificate for 127.0.0.1 and a client certificate, as PEM text and files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export type TlsCerts = {
  dir: string
  ca: string
  server: { cert: string; key: string }
  /** The client's certificate and key in one file, as MLFLOW_TRACKING_CLIENT_CERT_PATH takes them. */
  clientPemPath: string
  caPath: string
  [Symbol.asyncDispose](): Promise<void>
}

export const openssl = (cwd: string, args: string[]) => {
  const result = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "ignore", stderr: "pipe" })
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`)
}

export const tlsCerts = (): TlsCerts => {
  const dir = mkdtempSync(join(tmpdir(), "mlproject-tls-"))
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=mlproject test CA", "-days", "2"])
  for (const [name, subject, extension] of [
    ["server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"],
    ["client", "/CN=client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject])
    writeFileSync(join(dir, `${name}.ext`), `${extension}\n`)
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}.pem`, "-extfile", `${name}.ext`, "-days", "2"])
  }
  const read = (name: string) => readFileSync(join(dir, name), "utf8")
  const clientPemPath = join(dir, "client-combined.pem")
  writeFileSync(clientPemPath, read("client.pem") + read("client-key.pem"))
  return {
    dir,
    ca: read("ca.pem"),
    server: { cert: read("server.pem"), key: read("server-key.pem") },
    clientPemPath,
    caPath: join(dir, "ca.pem"),
    async [Symbol.asyncDispose]() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
