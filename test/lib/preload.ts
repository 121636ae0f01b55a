// Test preload: sandbox HOME and the caches in a temp folder and scrub credentials from the environment.
import { mkdtempSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setDefaultTimeout } from "bun:test"

const realHome = process.env.HOME ?? "/root"
const sandbox = mkdtempSync(join(tmpdir(), "mlproject-test-home-"))
mkdirSync(join(sandbox, "cache"), { recursive: true })

// pyenv lives under the real home; keep pointing at it so Python tests still find their interpreters.
process.env.PYENV_ROOT ??= join(realHome, ".pyenv")
process.env.HOME = sandbox
process.env.XDG_CACHE_HOME = join(sandbox, "cache")
process.env.MLPROJECT_HOME = join(sandbox, "cache", "mlproject")
process.env.NO_COLOR = "1"

const credentialPattern =
  /^(AWS_|GITHUB_TOKEN$|GH_TOKEN$|GITHUB_API_URL$|DATABRICKS_|GOOGLE_APPLICATION_CREDENTIALS$|MLFLOW_TRACKING_|MLFLOW_EXPERIMENT_|MLFLOW_S3_|AZURE_|DOCKER_HOST$|DOCKER_TLS|DOCKER_CERT|MLFLOW_TMP_DIR$|MLFLOW_ENV_ROOT$|MLFLOW_CONDA|CONDA_EXE$|PIP_|STORAGE_EMULATOR_HOST$|MLPROJECT_GCS_ENDPOINT$|GOOGLE_CLOUD_PROJECT$)/
for (const key of Object.keys(process.env)) {
  if (credentialPattern.test(key)) delete process.env[key]
}

// Since MLflow 3.7 the default store is ./mlflow.db unless ./mlruns holds experiments. Most tests are about other things
// and read ./mlruns, so they keep it by name (relative: every process resolves it in its own working folder); the tests
// of the default itself (test/tracking/default-store.test.ts) unset it.
process.env.MLFLOW_TRACKING_URI = "mlruns"

// Bun.spawn without `env` hands a child the environment this process started with, not process.env as changed
// above: the sandboxed HOME, the scrubbed credentials and the store would all be lost. Children get process.env.
const withEnv = (options: unknown) =>
  options && typeof options === "object" && !Array.isArray(options) && (options as { env?: unknown }).env === undefined ? { ...options, env: { ...process.env } } : options
const spawn = Bun.spawn
const spawnSync = Bun.spawnSync
const writable = Bun as unknown as Record<"spawn" | "spawnSync", (...args: unknown[]) => unknown>
writable.spawn = (first: unknown, second?: unknown) =>
  Array.isArray(first) ? spawn(first as string[], withEnv(second ?? {}) as never) : spawn(withEnv(first) as never)
writable.spawnSync = (first: unknown, second?: unknown) =>
  Array.isArray(first) ? spawnSync(first as string[], withEnv(second ?? {}) as never) : spawnSync(withEnv(first) as never)

// Tests that start servers or compile wheels need more than Bun's 5 s default on a busy 2-core machine.
setDefaultTimeout(60_000)
