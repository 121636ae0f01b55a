// When uv replaces pip, how pip settings reach it, and which Python a version request picks.
import { describe, expect, test } from "bun:test"
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bestMatch, findInterpreter } from "../../src/env/interpreter.ts"
import { chooseUv, pipConfigFiles, uvIndexArgs, uvInstallArgv } from "../../src/env/uv.ts"
import { installedPython } from "../lib/env-project.ts"

/** A folder with an executable named uv (never run by these tests: only found on PATH). */
const pathWithUv = () => {
  const dir = mkdtempSync(join(tmpdir(), "mlproject-uvbin-"))
  writeFileSync(join(dir, "uv"), "#!/bin/sh\nexit 1\n")
  chmodSync(join(dir, "uv"), 0o755)
  return dir
}

describe("uv", () => {
  test("virtualenv uses uv when it is on PATH and no pip configuration file would be ignored", () => {
    const bin = pathWithUv()
    const home = mkdtempSync(join(tmpdir(), "mlproject-uvhome-"))
    const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: home }
    // PIP_CONFIG_FILE=/dev/null turns every pip configuration file off, as pip documents: nothing to lose.
    expect(chooseUv("virtualenv", { ...env, PIP_CONFIG_FILE: "/dev/null" })).toBe(join(bin, "uv"))
    mkdirSync(join(home, ".config", "pip"), { recursive: true })
    writeFileSync(join(home, ".config", "pip", "pip.conf"), "[global]\nfind-links = /wheelhouse\nno-index = true\n")
    expect(pipConfigFiles(env)).toContain(join(home, ".config", "pip", "pip.conf"))
    expect(chooseUv("virtualenv", env)).toBeNull()
    // Asked for explicitly, uv is used anyway.
    expect(chooseUv("uv", env)).toBe(join(bin, "uv"))
  })

  test("PIP_* index settings become uv flags unless the UV_* ones are set", () => {
    const pip = { PIP_INDEX_URL: "https://mirror.invalid/simple", PIP_EXTRA_INDEX_URL: "https://a.invalid https://b.invalid", PIP_FIND_LINKS: "/w1 /w2", PIP_NO_INDEX: "1" }
    expect(uvIndexArgs(pip)).toEqual([
      "--index-url", "https://mirror.invalid/simple",
      "--extra-index-url", "https://a.invalid",
      "--extra-index-url", "https://b.invalid",
      "--find-links", "/w1",
      "--find-links", "/w2",
      "--no-index",
    ])
    expect(uvIndexArgs({ ...pip, UV_INDEX_URL: "x", UV_EXTRA_INDEX_URL: "y", UV_FIND_LINKS: "z", PIP_NO_INDEX: "0" })).toEqual([])
    expect(uvInstallArgv("/bin/uv", "/envs/uv-1", "/logs/deps.txt", {})).toEqual(["/bin/uv", "pip", "install", "--python", "/envs/uv-1/bin/python", "-r", "/logs/deps.txt"])
  })
})

describe("python versions", () => {
  test.each([
    [["3.10.13", "3.10.9", "3.11.7"], "3.10", "3.10.13"],
    [["3.10.13", "3.10.9"], "3.10.9", "3.10.9"],
    [["3.10.13", "3.10-dev", "3.10.14t"], "3.10", "3.10.13"],
    [["3.11.7"], "3.10", null],
    [["pypy3.9-7.3.11"], "pypy3.9-7.3.11", "pypy3.9-7.3.11"],
  ])("%p, %s → %p", (names, request, expected) => {
    expect(bestMatch(names, request)).toBe(expected)
  })

  test("an installed pyenv version is used without starting any process", async () => {
    const interpreter = await findInterpreter("3.9", { ...process.env, PATH: "/nonexistent" })
    const version = installedPython("3.9")
    expect(interpreter).toEqual({ path: join(String(process.env.PYENV_ROOT), "versions", version, "bin", "python"), version, source: "pyenv" })
  })

  test("python3.X on PATH is used when pyenv does not have the version", async () => {
    const interpreter = await findInterpreter("3.11", { ...process.env, PYENV_ROOT: "/nonexistent", PATH: "/usr/bin:/bin" })
    expect(interpreter.source).toBe("path")
    expect(interpreter.version).toMatch(/^3\.11\.\d+$/)
  })

  test("a version pyenv can install is planned as an install step, not installed while planning", async () => {
    const interpreter = await findInterpreter("3.10", { ...process.env, PYENV_ROOT: mkdtempSync(join(tmpdir(), "mlproject-pyenvroot-")), PATH: `${process.env.PYENV_ROOT}/bin:/bin` })
    expect(interpreter).toMatchObject({ path: null, source: "pyenv-install" })
    expect(interpreter.install).toMatch(/^3\.10\.\d+$/)
  })
})
