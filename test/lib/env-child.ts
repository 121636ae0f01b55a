// A separate process that prepares one environment and prints its events and result as JSON lines (concurrency, kill tests).
import { prepareEnvironment } from "../../src/env/index.ts"
import type { Project } from "../../src/project/types.ts"

type Args = { project: Project; manager: "virtualenv" | "uv" | "conda"; rebuild?: boolean }

const args = JSON.parse(process.argv[2] ?? "{}") as Args
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

try {
  const prepared = await prepareEnvironment({
    project: args.project,
    manager: args.manager,
    emit: (event) => {
      if (event.type !== "log") print(event)
    },
    env: process.env,
    rebuild: args.rebuild ?? false,
  })
  print({ type: "result", prepared })
} catch (error) {
  const e = error as { code?: string; message: string; hint?: string }
  print({ type: "failure", code: e.code ?? null, message: e.message, hint: e.hint ?? null })
  process.exitCode = 1
}
