// Seeds a pip-less venv with the base interpreter's own pip (and setuptools where venv would add it) by copying.
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** What a base interpreter can seed: the top-level names of each distribution and pip's console scripts. */
export type Seed = { purelib: string; entries: string[]; scripts: Array<{ name: string; module: string; func: string }> }

const distInfo = (purelib: string, name: string): string | null => {
  try {
    const dir = readdirSync(purelib).find((entry) => entry.toLowerCase().startsWith(`${name}-`) && entry.endsWith(".dist-info"))
    return dir && existsSync(join(purelib, dir, "RECORD")) ? dir : null
  } catch {
    return null
  }
}

/** Top-level files and folders of an installed distribution, from its RECORD (scripts outside site-packages skipped). */
const topLevel = (purelib: string, dir: string): string[] => {
  const record = readFileSync(join(purelib, dir, "RECORD"), "utf8")
  const names = new Set<string>([dir])
  for (const line of record.split("\n")) {
    const path = line.split(",")[0] ?? ""
    if (path === "" || path.startsWith("..") || path.startsWith("/")) continue
    names.add(path.split("/")[0] as string)
  }
  return [...names].filter((name) => existsSync(join(purelib, name)))
}

const consoleScripts = (purelib: string, dir: string): Seed["scripts"] => {
  let text: string
  try {
    text = readFileSync(join(purelib, dir, "entry_points.txt"), "utf8")
  } catch {
    return []
  }
  const section = /\[console_scripts\]([^[]*)/.exec(text)?.[1] ?? ""
  return section
    .split("\n")
    .map((line) => /^\s*([\w.-]+)\s*=\s*([\w.]+):([\w.]+)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1] as string, module: m[2] as string, func: m[3] as string }))
}

/**
 * What `python -m venv` would install (pip; setuptools too before 3.12), taken from the base interpreter.
 * Null when the base has no pip with a RECORD to copy from: then venv's own ensurepip is used.
 */
export const seedFrom = (purelib: string, minor: number): Seed | null => {
  const pip = distInfo(purelib, "pip")
  if (!pip) return null
  const setuptools = minor < 12 ? distInfo(purelib, "setuptools") : null
  const entries = [...topLevel(purelib, pip), ...(setuptools ? topLevel(purelib, setuptools) : [])]
  return { purelib, entries, scripts: consoleScripts(purelib, pip) }
}

/** A launcher like pip's own; past the kernel's shebang limit, the sh trampoline pip uses too. */
const launcher = (python: string, module: string, func: string): string => {
  const body = [
    "# -*- coding: utf-8 -*-",
    "import re",
    "import sys",
    `from ${module} import ${func}`,
    "if __name__ == '__main__':",
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])",
    `    sys.exit(${func}())`,
    "",
  ].join("\n")
  if (python.length < 120 && !/\s/.test(python)) return `#!${python}\n${body}`
  return `#!/bin/sh\n'''exec' "${python}" "$0" "$@"\n' '''\n${body}`
}

export const writeLaunchers = (prefix: string, seed: Seed): void => {
  const python = join(prefix, "bin", "python")
  for (const script of seed.scripts) {
    const file = join(prefix, "bin", script.name)
    writeFileSync(file, launcher(python, script.module, script.func))
    chmodSync(file, 0o755)
  }
}
