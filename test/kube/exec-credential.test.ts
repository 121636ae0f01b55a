// Exec credential plugins as real scripts: the token and client-certificate kinds, v1 and v1beta1, expiry, a 401, failures.
import { describe, expect, test } from "bun:test"
import { chmodSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import { connectKube } from "../../src/kube/api.ts"
import { json, kubeEnv, status } from "../lib/kube.ts"
import { loopback } from "../lib/loopback.ts"
import { tlsCerts } from "../lib/tls-certs.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const refusal = async (work: Promise<unknown>): Promise<ToolError> => {
  try {
    await work
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

// Counts its runs in $COUNT, keeps what it was given in $INFO, and prints token "tok-<run>" (with $EXPIRY, if set).
const tokenPlugin = `#!/bin/sh
n=$(cat "$COUNT" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNT"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO"
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"tok-%s"%s}}' "$VERSION" "$n" "$EXPIRY"
`

const script = (dir: TmpDir, name: string, text: string): string => {
  const path = dir.write(`kube/${name}`, text)
  chmodSync(path, 0o755)
  return path
}

const exec = (dir: TmpDir, version: string, extra: Record<string, unknown> = {}, expiry = "") => ({
  exec: {
    apiVersion: `client.authentication.k8s.io/${version}`,
    // Relative to the kubeconfig's folder, as kubectl resolves a command with a '/'.
    command: "./plugin.sh",
    env: [
      { name: "COUNT", value: join(dir.path, "count") },
      { name: "INFO", value: join(dir.path, "info") },
      { name: "VERSION", value: `client.authentication.k8s.io/${version}` },
      { name: "EXPIRY", value: expiry },
    ],
    ...(version === "v1" ? { interactiveMode: "Never" } : {}),
    ...extra,
  },
})

const runs = (dir: TmpDir): number => Number(readFileSync(join(dir.path, "count"), "utf8"))

describe("token plugins", () => {
  test.each(["v1", "v1beta1"])("%s: runs once, hands its token to the server, gets KUBERNETES_EXEC_INFO", async (version) => {
    await using dir = tmpdirFor()
    script(dir, "plugin.sh", tokenPlugin)
    await using server = loopback(() => json({ ok: true }))
    const kube = await connectKube(kubeEnv(dir, { server: server.url, user: exec(dir, version, { provideClusterInfo: true }) }))
    await kube.call("GET", "/api")
    await kube.call("GET", "/api")
    expect(server.requests.map((r) => r.headers.get("authorization"))).toEqual(["Bearer tok-1", "Bearer tok-1"])
    expect(runs(dir)).toBe(1)
    expect(JSON.parse(readFileSync(join(dir.path, "info"), "utf8"))).toEqual({
      apiVersion: `client.authentication.k8s.io/${version}`,
      kind: "ExecCredential",
      spec: { interactive: false, cluster: { server: server.url } },
    })
  })

  test("a token about to expire is fetched again; a 401 makes one more run, a second 401 is kube.auth", async () => {
    await using dir = tmpdirFor()
    script(dir, "plugin.sh", tokenPlugin)
    const soon = `,"expirationTimestamp":"${new Date(Date.now() + 5_000).toISOString()}"`
    const accepted = new Set(["tok-2", "tok-3"])
    await using server = loopback((request) => (accepted.has((request.headers.get("authorization") ?? "").slice(7)) ? json({ ok: true }) : status(401, "Unauthorized")))
    const expiring = await connectKube(kubeEnv(dir, { server: server.url, user: exec(dir, "v1", {}, soon) }))
    await expiring.call("GET", "/api")
    expect(runs(dir)).toBe(2)
    await expiring.call("GET", "/api")
    expect(runs(dir)).toBe(3)
    expect(server.requests.map((r) => r.headers.get("authorization"))).toEqual(["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"])

    accepted.clear()
    const lasting = await connectKube(kubeEnv(dir, { server: server.url, user: exec(dir, "v1") }))
    const error = await refusal(lasting.call("GET", "/api"))
    expect(runs(dir)).toBe(5)
    expect(error.code).toBe("kube.auth")
    expect(error.message).toContain(`refused the credentials of context 'test'`)
    expect(error.message).not.toContain("tok-")
  })
})

test("a client-certificate plugin (v1beta1) satisfies a server that demands a certificate", async () => {
  await using certs = tlsCerts()
  await using dir = tmpdirFor()
  const credential = {
    apiVersion: "client.authentication.k8s.io/v1beta1",
    kind: "ExecCredential",
    status: { clientCertificateData: readFileSync(join(certs.dir, "client.pem"), "utf8"), clientKeyData: readFileSync(join(certs.dir, "client-key.pem"), "utf8") },
  }
  const output = dir.write("credential.json", JSON.stringify(credential))
  script(dir, "cert-plugin.sh", `#!/bin/sh\ncat '${output}'\n`)
  await using server = loopback(() => json({ ok: true }), { tls: { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true } })
  const user = { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: join(dir.path, "kube", "cert-plugin.sh") } }
  const kube = await connectKube(kubeEnv(dir, { server: server.url, cluster: { "certificate-authority": certs.caPath }, user }))
  expect(await kube.call("GET", "/api")).toEqual({ ok: true })
  expect(server.requests[0]?.headers.get("authorization")).toBeNull()
})

describe("failing plugins", () => {
  test.each([
    [
      "a plugin that fails: its command, exit code and stderr, no secret of its env",
      `#!/bin/sh\necho "login failed for $SECRET_VALUE: session expired" >&2\nexit 3\n`,
      {},
      { code: "kube.exec", exitCode: 1 },
      /exec plugin '.*plugin.sh' of user 'u' \(.*config\) failed \(exit code 3\): login failed for \*\*\*: session expired/,
    ],
    ["a plugin that prints something else", `#!/bin/sh\necho not json\n`, {}, { code: "kube.exec", exitCode: 1 }, /printed no ExecCredential JSON/],
    ["a missing plugin: its installHint", "", { command: "kubectl-no-such-plugin", installHint: "Install it with: brew install no-such-plugin" }, { code: "kube.exec", exitCode: 2 }, /'kubectl-no-such-plugin' of user 'u' .* was not found\nInstall it with: brew install no-such-plugin/],
    ["interactiveMode Always", `#!/bin/sh\nexit 0\n`, { interactiveMode: "Always" }, { code: "kube.exec", exitCode: 2 }, /needs a terminal \(interactiveMode: Always\)/],
  ])("%s", async (_, text, extra, expected, message) => {
    await using dir = tmpdirFor()
    if (text !== "") script(dir, "plugin.sh", text)
    await using server = loopback(() => json({ ok: true }))
    const user = exec(dir, "v1", extra)
    user.exec.env.push({ name: "SECRET_VALUE", value: "hunter2-secret" })
    const kube = await connectKube(kubeEnv(dir, { server: server.url, user }))
    const error = await refusal(kube.call("GET", "/api"))
    expect({ code: error.code, exitCode: error.exitCode }).toEqual(expected as never)
    expect(error.message).toMatch(message)
    expect(error.message).not.toContain("hunter2-secret")
    expect(server.requests).toHaveLength(0)
  })
})
