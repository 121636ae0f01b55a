// A local wheelhouse of tiny pure-Python packages, written by hand (no setuptools/wheel needed), and pip isolation.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The five packages every environment test installs; `mlp_alpha` also exists as 2.0.0 for upgrade tests. */
export const packageNames = ["mlp_alpha", "mlp_beta", "mlp_gamma", "mlp_delta", "mlp_epsilon"] as const

// A wheel is a zip with the package, METADATA, WHEEL and a RECORD of sha256 digests (PEP 427); zipfile is stdlib.
const script = `
import base64, hashlib, os, sys, zipfile
out = sys.argv[1]
def wheel(name, version):
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\\nNAME = {name!r}\\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: mlproject-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\\n".join(record + [f"{info}/RECORD,,"]) + "\\n"
    with zipfile.ZipFile(os.path.join(out, f"{name}-{version}-py3-none-any.whl"), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
for spec in sys.argv[2:]:
    wheel(*spec.split("=="))
`

let built: string | null = null

/** Builds the wheelhouse once per test process (and reuses one left by an earlier process). */
export const wheelhouse = (): string => {
  if (built) return built
  const dir = join(tmpdir(), "mlproject-test-wheelhouse-v1")
  if (!existsSync(join(dir, "mlp_epsilon-1.0.0-py3-none-any.whl"))) {
    const staging = `${dir}.${process.pid}`
    mkdirSync(staging, { recursive: true })
    const specs = [...packageNames.map((n) => `${n}==1.0.0`), "mlp_alpha==2.0.0"]
    const python = Bun.which("python3") ?? "python3"
    const result = Bun.spawnSync([python, "-c", script, staging, ...specs], { stderr: "pipe" })
    if (result.exitCode !== 0) throw new Error(`building test wheels failed: ${result.stderr.toString()}`)
    try {
      renameSync(staging, dir)
    } catch {
      // Another test process published it first.
      rmSync(staging, { recursive: true, force: true })
    }
  }
  built = dir
  return dir
}

/** pip pointed at the wheelhouse only, and deaf to this machine's own pip configuration: no network. */
export const offlinePip = (dir: string = wheelhouse()): Record<string, string> => ({
  PIP_CONFIG_FILE: "/dev/null",
  PIP_DISABLE_PIP_VERSION_CHECK: "1",
  PIP_NO_INDEX: "1",
  PIP_FIND_LINKS: dir,
})
