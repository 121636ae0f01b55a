// Compiles src/bin.ts into the single `mlproject` executable; `--all` cross-compiles the release matrix.
//
// Two passes: the first binary is run once per common command line to record the functions each uses, and the
// second lays that bytecode out first (Bun's profile-guided bytecode layout): fewer pages of the binary are read and
// decoded at start. One profile serves every target. MLPROJECT_BYTECODE_PROFILE=false builds in one pass.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pkg from "../package.json" with { type: "json" }
import { recordProfiles, startupJitPolicy } from "./bytecode-profile.ts"

type Target = { name: string; bun: Bun.Build.CompileTarget }

const releaseTargets: Target[] = [
  { name: "linux-x64", bun: "bun-linux-x64" },
  { name: "linux-arm64", bun: "bun-linux-arm64" },
  { name: "darwin-arm64", bun: "bun-darwin-arm64" },
]

const root = join(import.meta.dir, "..")
const version = process.env.MLPROJECT_VERSION ?? pkg.version
// A digest of the sources: caches of derived data (parsed projects) never outlive the code that derived them.
const buildId = await (async () => {
  const hash = new Bun.CryptoHasher("sha256")
  for (const file of [...new Bun.Glob("src/**/*.ts").scanSync(root)].sort()) hash.update(file).update(await Bun.file(join(root, file)).bytes())
  return hash.digest("hex").slice(0, 16)
})()

const compile = async (outfile: string, target?: Bun.Build.CompileTarget, bytecodeOrder: string[] = []): Promise<boolean> => {
  const result = await Bun.build({
    // The hash worker is its own entry point so checksums run off the main thread; it is found at /$bunfs/root/storage/.
    entrypoints: [join(root, "src/bin.ts"), join(root, "src/storage/hash-worker.ts")],
    compile: {
      outfile,
      ...(target ? { target } : {}),
      autoloadTsconfig: false,
      autoloadPackageJson: false,
      autoloadDotenv: false,
      autoloadBunfig: false,
      bytecodeOrder: bytecodeOrder.length > 0 ? bytecodeOrder : null,
      jitPolicy: startupJitPolicy,
    },
    bytecode: true,
    // Commands and SDKs are loaded with import(); separate chunks keep them off the startup path.
    splitting: true,
    format: "esm",
    minify: true,
    define: { MLPROJECT_VERSION: JSON.stringify(version), MLPROJECT_BUILD_ID: JSON.stringify(buildId) },
  })
  for (const log of result.logs) console.error(String(log))
  return result.success
}

const all = process.argv.includes("--all")
mkdirSync(join(root, "dist"), { recursive: true })
const binary = join(root, "dist", "mlproject")
const profiles = mkdtempSync(join(tmpdir(), "mlproject-bytecode-order-"))
const fail = (): never => {
  rmSync(profiles, { recursive: true, force: true })
  process.exit(1)
}
if (!(await compile(binary))) fail()
const orders = process.env.MLPROJECT_BYTECODE_PROFILE === "false" ? [] : recordProfiles(binary, profiles)
if (orders.length > 0 && !(await compile(binary, undefined, orders))) fail()
console.log(`built dist/mlproject ${version}${orders.length > 0 ? ` (bytecode laid out by ${orders.length} profiles)` : ""}`)

if (all) {
  let failed = 0
  for (const target of releaseTargets) {
    const dir = join(root, "dist", target.name)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    try {
      if (await compile(join(dir, "mlproject"), target.bun, orders)) console.log(`built dist/${target.name}/mlproject`)
      else failed++
    } catch (error) {
      // Cross-compiling downloads the target's Bun runtime; say which target could not be built and why.
      console.error(`could not build ${target.name}: ${(error as Error).message}`)
      failed++
    }
  }
  if (failed > 0) fail()
}
rmSync(profiles, { recursive: true, force: true })
