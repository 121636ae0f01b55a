// Pure rules, table-driven: URI classification, subdir normalisation, redaction, GitHub coordinates, archive entry checks.
import { describe, expect, test } from "bun:test"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import { checkEntries, entryPath, type ArchiveEntry } from "../../src/source/archive-rules.ts"
import { hasHelperFor, userOnlyConfig } from "../../src/source/git-credentials.ts"
import { gitSession } from "../../src/source/git-run.ts"
import { sshDestination } from "../../src/source/git-ssh.ts"
import { parseGitProgress, reporter } from "../../src/source/progress.ts"
import { redactText, redactUrl, secretsOf, splitCredentials } from "../../src/util/redact.ts"
import { classify, githubRepoOf } from "../../src/source/uri.ts"
import { sh } from "../lib/git.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const codeOf = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    if (error instanceof ToolError) return error.code
    throw error
  }
  return "ok"
}

describe("classify", () => {
  test("by form and by what is on disk", async () => {
    await using dir = tmpdirFor()
    dir.write("plain/MLproject", "name: x\n")
    sh(["git", "init", "-q", "--bare", join(dir.path, "bare.git")])
    sh(["git", "init", "-q", join(dir.path, "tree")])
    mkdirSync(join(dir.path, "tree", "sub"))
    const cases: Array<[string, boolean, string]> = [
      [join(dir.path, "plain"), false, "local"],
      [`file://${join(dir.path, "plain")}`, false, "local"],
      ["plain", false, "local"],
      [join(dir.path, "bare.git"), false, "git"],
      [`file://${join(dir.path, "bare.git")}#sub`, false, "git"],
      [join(dir.path, "tree", ".git"), false, "git"],
      [join(dir.path, "tree"), true, "local-git"],
      [join(dir.path, "tree", "sub"), true, "local-git"],
      ["https://github.com/org/repo", false, "git"],
      ["http://host/org/repo.git#sub", false, "git"],
      ["ssh://git@host:2222/org/repo.git", false, "git"],
      ["git+ssh://git@host/org/repo.git", false, "git"],
      ["git@github.com:org/repo.git", false, "git"],
      ["host.example.com:org/repo", false, "git"],
      ["git://host/org/repo", false, "git"],
      ["https://host/downloads/p.zip", false, "archive"],
      ["https://host/downloads/p.TAR.GZ?sig=1#sub", false, "archive"],
      ["p.tgz", false, "archive"],
      ["file:///x/p.tar", false, "archive"],
      ["s3://bucket/releases/p.tgz", false, "archive"],
      ["gs://bucket/p.zip#sub", false, "archive"],
      ["dbfs:/FileStore/p.tar.gz", false, "archive"],
      // A file where the path needs a folder (ENOTDIR) is nothing on disk, as a missing path is: it was an internal error.
      [join(dir.path, "plain", "MLproject", "x"), false, "local"],
      [join(dir.path, "plain", "MLproject", "p.zip"), false, "archive"],
      ["plain/MLproject/x.mlpack", false, "pack"],
    ]
    for (const [uri, version, via] of cases) expect([uri, classify(uri, dir.path, version).via]).toEqual([uri, via])
  })

  test.each([
    ["-oProxyCommand=x", "source.uri.refused"],
    ["ext::sh -c id", "source.uri.refused"],
    ["fd::7,8", "source.uri.refused"],
    ["transport::https://host/x", "source.uri.refused"],
    ["https://host/x\nfoo", "source.uri.refused"],
    ["ftp://host/p.zip", "source.unsupported"],
    ["ftp://host/x", "source.unsupported"],
    ["https://host/x#../../y", "source.subdir"],
    ["https://host/x#/etc", "source.subdir"],
  ])("%j is refused (%s)", (uri, code) => {
    expect(codeOf(() => classify(uri, "/tmp", false))).toBe(code)
  })

  test.each([
    ["x#a/./b/", "a/b"],
    ["x#v1.2", "v1.2"],
    ["x#a/../b", "b"],
    ["x#", ""],
    ["x", ""],
  ])("subdir of %s is '%s'", (suffix, subdir) => {
    expect(classify(`https://host/${suffix}`, "/tmp", false).subdir).toBe(subdir)
  })
})

describe("secrets", () => {
  test.each([
    ["https://user:tok@host/r.git", "https://host/r.git"],
    ["https://TOKEN@github.com/o/r#sub", "https://github.com/o/r#sub"],
    ["https://u:p@ss@host/r", "https://host/r"],
    ["https://host/p.zip?X-Amz-Signature=abc&x=1&token=t", "https://host/p.zip?X-Amz-Signature=***&x=1&token=***"],
    ["git@github.com:o/r.git", "git@github.com:o/r.git"],
    ["/local/path#sub", "/local/path#sub"],
  ])("%s is shown as %s", (uri, shown) => {
    expect(redactUrl(uri)).toBe(shown)
  })

  test("credentials are split off and decoded; scrubbing removes them and their encodings", () => {
    const { url, credentials } = splitCredentials("https://al%40ice:p%2Fss@host/r")
    expect(url).toBe("https://host/r")
    expect(credentials).toEqual({ user: "al@ice", password: "p/ss", raw: "al%40ice:p%2Fss" })
    const secrets = secretsOf(credentials, "ghp_abc123")
    expect(redactText("fatal: p/ss and p%2Fss and p%2fss and ghp_abc123 at https://x:y@h/", secrets)).toBe("fatal: *** and *** and *** and *** at https://h/")
    expect(redactText(`echo: ${btoa("al@ice:p/ss")}`, secrets)).toBe("echo: ***")
  })
})

describe("githubRepoOf", () => {
  test.each([
    ["https://github.com/acme/proj", {}, "acme/proj https://api.github.com"],
    ["https://tok@github.com/acme/proj.git/", {}, "acme/proj https://api.github.com"],
    ["git@github.com:acme/proj.git", {}, "acme/proj https://api.github.com"],
    ["ssh://git@github.com/acme/proj", {}, "acme/proj https://api.github.com"],
    ["ssh://git@github.com:22/acme/proj.git", {}, "acme/proj https://api.github.com"],
    ["https://ghe.corp/acme/proj", { GITHUB_API_URL: "https://ghe.corp/api/v3" }, "acme/proj https://ghe.corp/api/v3"],
    ["https://acme.ghe.com/a/b", { GITHUB_API_URL: "https://api.acme.ghe.com" }, "a/b https://api.acme.ghe.com"],
    ["https://gitlab.com/acme/proj", {}, null],
    ["https://github.com/acme", {}, null],
    ["https://github.com/acme/proj/tree/main", {}, null],
  ])("%s", (uri, env, expected) => {
    const gh = githubRepoOf(uri, env)
    expect(gh ? `${gh.owner}/${gh.repo} ${gh.api}` : null).toBe(expected)
  })
})

describe("archive entries", () => {
  const file = (path: string): ArchiveEntry => ({ path, type: "file", size: 1 })
  const link = (path: string, target: string): ArchiveEntry => ({ path, type: "symlink", size: 0, target })
  test.each([
    ["inside links are fine", [file("a/x"), link("a/up", "../a/x"), link("b", "a")], "ok"],
    ["a link to the root is fine", [link("root", ".")], "ok"],
    ["climbing out", [link("a", "..")], "source.archive.unsafe"],
    ["absolute", [link("a", "/etc")], "source.archive.unsafe"],
    ["through a link that lands higher", [link("s", "."), link("t", "s/..")], "source.archive.unsafe"],
    ["nested links landing higher", [link("s", "."), link("u", "s/s/s"), link("t", "u/..")], "source.archive.unsafe"],
    ["a link loop", [link("a", "b"), link("b", "a")], "source.archive.unsafe"],
    ["an entry under a link", [link("d", "x"), file("d/f")], "source.archive.unsafe"],
  ])("%s", (_label, entries, expected) => {
    expect(codeOf(() => checkEntries(entries as ArchiveEntry[], "t"))).toBe(expected)
  })

  test.each([
    ["./a//b/", "a/b"],
    ["./", null],
    ["a\\b", "a/b"],
  ])("entry path %s → %s", (raw, normal) => {
    expect(entryPath(raw, "t")).toBe(normal)
  })
})

describe("the git environment", () => {
  const report = { progress() {}, done() {} }
  const configOf = (env: Record<string, string | undefined>) =>
    Object.fromEntries(Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]))

  test.each([
    ["https://bob:s3cret@host:8443/r.git", "https://host:8443/r.git", "http.https://host:8443/.extraHeader", `Authorization: Basic ${btoa("bob:s3cret")}`],
    ["https://ghp_0123456789abcdefghij0123456789@host/r", "https://host/r", "http.https://host/.extraHeader", `Authorization: Basic ${btoa("ghp_0123456789abcdefghij0123456789:")}`],
    ["https://alice@host/r", "https://host/r", null, null],
    ["https://abc@host/r", "https://host/r", null, null],
    ["https://oauth2:p%40ss@host/r", "https://host/r", "http.https://host/.extraHeader", `Authorization: Basic ${btoa("oauth2:p@ss")}`],
    ["git://tok@host/r", "git://host/r", null, null],
    ["ssh://git:pw@host/r.git", "ssh://git@host/r.git", null, null],
    ["git@host:r.git", "git@host:r.git", null, null],
  ])("%s: git gets %s", (base, url, key, value) => {
    const s = gitSession(base, { env: {}, report })
    expect(s.url).toBe(url)
    const config = configOf(s.env)
    if (key) expect(config[key]).toBe(value as string)
    else expect(Object.keys(config).some((k) => String(k).endsWith("extraHeader"))).toBe(false)
  })

  test.each([
    ["no helper at all", [], false],
    ["a helper for every host", ["credential.helper store"], true],
    ["a helper for this host", ["credential.https://host.helper cache"], true],
    ["only a helper for another host (Debian's gcloud one)", ["credential.https://source.developers.google.com.helper gcloud.sh"], false],
    ["a helper cleared again", ["credential.helper store", "credential.helper "], false],
  ])("a user name alone with %s", (_, lines, helper) => {
    expect(hasHelperFor(lines as string[], "https://host")).toBe(helper as boolean)
    const userOnly = { origin: "https://host", user: "Tk7Qz9Wb" }
    // With a helper the name is asked about; with none it is the credential, sent as `name:` to that origin only.
    expect(userOnlyConfig(userOnly, helper as boolean)).toEqual(
      helper ? [["credential.https://host.username", "Tk7Qz9Wb"]] : [["http.https://host/.extraHeader", `Authorization: Basic ${btoa("Tk7Qz9Wb:")}`]],
    )
  })

  test("GITHUB_TOKEN only for GitHub over https; protocols; the caller's own git settings kept, repository variables dropped", () => {
    const env = { GITHUB_TOKEN: "ghp_tok", GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.proxy", GIT_CONFIG_VALUE_0: "http://proxy:3128", GIT_DIR: "/elsewhere/.git" }
    const github = gitSession("https://github.com/o/r", { env, report, github: true })
    expect(configOf(github.env)["http.https://github.com/.extraHeader"]).toBe(`Authorization: Basic ${btoa("x-access-token:ghp_tok")}`)
    expect(configOf(github.env)["http.proxy"]).toBe("http://proxy:3128")
    expect(github.env.GIT_DIR).toBeUndefined()
    expect(github.env.GIT_ALLOW_PROTOCOL).toBe("git:http:https:ssh")
    expect(github.env.GIT_TERMINAL_PROMPT).toBe("0")
    expect(redactText("token ghp_tok leaked", github.secrets)).toBe("token *** leaked")
    const other = gitSession("https://gitlab.com/o/r", { env, report })
    expect(Object.keys(configOf(other.env)).some((k) => String(k).endsWith("extraHeader"))).toBe(false)
    expect(gitSession("/srv/r.git", { env: { GIT_ALLOW_PROTOCOL: "file:https" }, report, local: true }).env.GIT_ALLOW_PROTOCOL).toBe("https:file")
  })
})

test("git progress lines", () => {
  expect(parseGitProgress("Receiving objects:  10% (1/10)\rReceiving objects:  45% (45/100), 1.2 MiB")).toEqual({ phase: "receiving objects", done: 45, total: 100 })
  expect(parseGitProgress("remote: Counting objects: 100% (9/9), done.")).toEqual({ phase: "counting objects", done: 9, total: 9 })
  expect(parseGitProgress("From git://host/x")).toBeNull()
})

test("fetch progress is rate-limited: a phase change or a finished phase always shows, repeats at most every 200 ms", () => {
  const events: Array<{ type: string; phase?: string; done?: number | null }> = []
  const report = reporter((e) => events.push(e), "src", "git")
  for (let i = 1; i <= 1000; i++) report.progress("receiving objects", i, 1000)
  report.progress("resolving deltas", 1, 10)
  report.done("abc", false)
  expect(events.map((e) => [e.type, e.phase ?? "", e.done ?? null])).toEqual([
    ["fetch.started", "", null],
    ["fetch.progress", "receiving objects", 1],
    ["fetch.progress", "receiving objects", 1000],
    ["fetch.progress", "resolving deltas", 1],
    ["fetch.done", "", null],
  ])
})

describe("the ssh destination of a git URL (for hints: which host and port to scan)", () => {
  test.each([
    ["ssh://git@host:2222/org/repo.git", { host: "host", port: "2222" }],
    ["ssh://host/repo.git", { host: "host" }],
    ["git+ssh://me@[::1]:22/r.git", { host: "::1", port: "22" }],
    ["git@github.com:org/repo.git", { host: "github.com" }],
    ["alias:repos/p.git", { host: "alias" }],
    ["https://host/r.git", null],
    ["git://host/r.git", null],
    ["/srv/repo.git", null],
    ["./a:b", null],
  ])("%s", (url, destination) => {
    expect(sshDestination(url)).toEqual(destination)
  })
})
