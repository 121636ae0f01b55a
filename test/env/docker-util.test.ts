// The daemon-independent pieces of the docker client: .dockerignore, tar, stream demultiplexing, references, credentials.
import { describe, expect, test } from "bun:test"
import { chmodSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { contextTar, hashContext, listContext } from "../../src/env/docker-context.ts"
import { dockerAddress } from "../../src/util/docker-api.ts"
import { parseImageRef, registryAuthHeaders, registryCredentials } from "../../src/util/docker-auth.ts"
import { isIgnored, parseDockerignore } from "../../src/util/docker-ignore.ts"
import { demultiplex } from "../../src/util/docker-stream.ts"
import { tmpdirFor } from "../lib/tmp.ts"

describe(".dockerignore", () => {
  const rules = parseDockerignore(
    ["# comment", "", "*.log", "/build", "data/**", "!data/keep/**", "**/__pycache__", "docs/*.md", "!docs/README.md", "sec?et", "  spaced  "].join("\n"),
  )
  test.each([
    ["app.log", true],
    ["sub/app.log", false],
    ["build", true],
    ["build/x.o", true],
    ["src/build", false],
    ["data/big.csv", true],
    ["data/deep/x", true],
    ["data/keep/k.csv", false],
    ["a/b/__pycache__/m.pyc", true],
    ["__pycache__/m.pyc", true],
    ["docs/guide.md", true],
    ["docs/README.md", false],
    ["docs/sub/guide.md", false],
    ["secret", true],
    ["spaced", true],
    ["train.py", false],
  ])("%s ignored: %p", (path, ignored) => {
    expect(isIgnored(rules, path)).toBe(ignored)
  })

  test("the last matching pattern wins; a trailing ** matches everything below", () => {
    const later = parseDockerignore("!keep.txt\n*.txt\n")
    expect(isIgnored(later, "keep.txt")).toBe(true)
    expect(isIgnored(parseDockerignore("**"), "any/thing")).toBe(true)
    expect(isIgnored(parseDockerignore("a/**/b"), "a/b")).toBe(true)
    expect(isIgnored(parseDockerignore("a/**/b"), "a/x/y/b")).toBe(true)
    expect(isIgnored(parseDockerignore("[a-c].py"), "b.py")).toBe(true)
    expect(isIgnored(parseDockerignore("[^a].py"), "a.py")).toBe(false)
  })
})

describe("build context", () => {
  test("lists what .dockerignore keeps, re-includes exceptions, leaves out the excluded store; the hash follows content and modes", async () => {
    await using dir = tmpdirFor()
    dir.write(".dockerignore", "data\n!data/keep.txt\n*.tmp\n")
    dir.write("train.py", "print(1)\n")
    dir.write("data/big.bin", "x".repeat(1000))
    dir.write("data/keep.txt", "keep")
    dir.write("scratch.tmp", "t")
    dir.write("mlruns/0/meta.yaml", "x")
    symlinkSync("train.py", join(dir.path, "link.py"))
    const files = listContext(dir.path, [join(dir.path, "mlruns")])
    expect(files.map((f) => f.path)).toEqual([".dockerignore", "data/keep.txt", "link.py", "train.py"])
    const before = hashContext(files)
    dir.write("mlruns/0/other", "changes every run")
    dir.write("data/big.bin", "changed but ignored")
    expect(hashContext(listContext(dir.path, [join(dir.path, "mlruns")]))).toBe(before)
    chmodSync(join(dir.path, "train.py"), 0o755)
    const chmodded = hashContext(listContext(dir.path, [join(dir.path, "mlruns")]))
    expect(chmodded).not.toBe(before)
    dir.write("train.py", "print(2)\n")
    expect(hashContext(listContext(dir.path, [join(dir.path, "mlruns")]))).not.toBe(chmodded)
  })

  test("the tar extracts with GNU tar to the same tree: modes, symlinks, long names, the Dockerfile", async () => {
    await using dir = tmpdirFor()
    const longName = `${"deep/".repeat(30)}${"n".repeat(120)}.txt`
    dir.write(`src/${longName}`, "long")
    dir.write("src/run.sh", "#!/bin/sh\necho hi\n")
    chmodSync(join(dir.path, "src/run.sh"), 0o750)
    symlinkSync("run.sh", join(dir.path, "src/alias.sh"))
    const tar = await new Response(contextTar(listContext(join(dir.path, "src")), { name: "Dockerfile.x", text: "FROM scratch\n" })).bytes()
    expect(tar.length % 512).toBe(0)
    mkdirSync(join(dir.path, "out"))
    const result = Bun.spawnSync(["tar", "-x", "-C", join(dir.path, "out")], { stdin: tar, stderr: "pipe" })
    expect(result.stderr.toString()).toBe("")
    expect(readFileSync(join(dir.path, "out/Dockerfile.x"), "utf8")).toBe("FROM scratch\n")
    expect(readFileSync(join(dir.path, "out/code", longName), "utf8")).toBe("long")
    expect(statSync(join(dir.path, "out/code/run.sh")).mode & 0o777).toBe(0o750)
    expect(readlinkSync(join(dir.path, "out/code/alias.sh"))).toBe("run.sh")
  })
})

describe("attach stream demultiplexing", () => {
  const frame = (stream: number, text: string) => {
    const payload = new TextEncoder().encode(text)
    const header = new Uint8Array(8)
    header[0] = stream
    new DataView(header.buffer).setUint32(4, payload.length)
    return new Uint8Array([...header, ...payload])
  }

  test("frames split at every possible byte boundary still come out whole and in order, per stream", async () => {
    const all = new Uint8Array([...frame(1, "out one\n"), ...frame(2, "err\n"), ...frame(1, "out two\n"), ...frame(1, "")])
    for (const size of [1, 3, 7, 8, 9, 13, all.length]) {
      const pieces: Uint8Array[] = []
      for (let i = 0; i < all.length; i += size) pieces.push(all.slice(i, i + size))
      const got = { stdout: "", stderr: "" }
      await demultiplex(new Response(new Blob(pieces)).body as ReadableStream<Uint8Array>, (stream, chunk) => {
        got[stream] += new TextDecoder().decode(chunk)
      })
      expect(got).toEqual({ stdout: "out one\nout two\n", stderr: "err\n" })
    }
  })
})

describe("image references and registry credentials", () => {
  test.each([
    ["ubuntu", { registry: "docker.io", name: "ubuntu", reference: "latest" }],
    ["team/app:1.2", { registry: "docker.io", name: "team/app", reference: "1.2" }],
    ["127.0.0.1:5000/base", { registry: "127.0.0.1:5000", name: "127.0.0.1:5000/base", reference: "latest" }],
    ["localhost/x:y", { registry: "localhost", name: "localhost/x", reference: "y" }],
    ["ghcr.io/o/r@sha256:abc", { registry: "ghcr.io", name: "ghcr.io/o/r", reference: "sha256:abc" }],
  ])("%s", (image, expected) => {
    expect(parseImageRef(image)).toEqual(expected)
  })

  test("auths (base64 user:password), then a credential helper when its binary is on PATH", async () => {
    await using dir = tmpdirFor()
    const auth = Buffer.from("alice:pa:ss").toString("base64")
    dir.write(".docker/config.json", JSON.stringify({ auths: { "https://reg.example:5000/v1/": { auth }, "https://index.docker.io/v1/": { auth } } }))
    const env = { HOME: dir.path, PATH: "/usr/bin:/bin" }
    expect(await registryCredentials("reg.example:5000", env)).toEqual({ username: "alice", password: "pa:ss", serveraddress: "reg.example:5000" })
    expect(await registryCredentials("docker.io", env)).toMatchObject({ username: "alice", serveraddress: "https://index.docker.io/v1/" })
    expect(await registryCredentials("other.example", env)).toBeNull()

    const helper = dir.write("bin/docker-credential-fake", `#!/bin/sh\nread server\necho "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"bob\\",\\"Secret\\":\\"from-helper\\"}"\n`)
    chmodSync(helper, 0o755)
    dir.write(".docker/config.json", JSON.stringify({ auths: { "reg.example:5000": { auth } }, credHelpers: { "reg.example:5000": "fake" } }))
    const withHelper = { ...env, PATH: `${join(dir.path, "bin")}:/usr/bin:/bin` }
    expect(await registryCredentials("reg.example:5000", withHelper)).toEqual({ username: "bob", password: "from-helper", serveraddress: "reg.example:5000" })
    // Without the helper binary, the auths entry still answers.
    expect(await registryCredentials("reg.example:5000", env)).toMatchObject({ username: "alice" })
    const header = registryAuthHeaders({ username: "u", password: "p", serveraddress: "s" })["X-Registry-Auth"] as string
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ username: "u", password: "p", serveraddress: "s" })
  })

  test("DOCKER_HOST: unix sockets, tcp with and without TLS, and a clear error for anything else", async () => {
    expect(dockerAddress({})).toMatchObject({ host: "unix:///var/run/docker.sock", unix: "/var/run/docker.sock" })
    expect(dockerAddress({ DOCKER_HOST: "tcp://10.0.0.1" })).toMatchObject({ url: "http://10.0.0.1:2375" })
    await using dir = tmpdirFor()
    dir.write("ca.pem", "CA")
    expect(dockerAddress({ DOCKER_HOST: "tcp://h:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir.path })).toMatchObject({
      url: "https://h:2376",
      tls: { ca: "CA", rejectUnauthorized: true },
    })
    expect(() => dockerAddress({ DOCKER_HOST: "tcp://h", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/nonexistent" })).toThrow("ca.pem does not exist")
    expect(() => dockerAddress({ DOCKER_HOST: "ssh://me@h" })).toThrow("only unix:// and tcp://")
  })
})
