// `mlproject migrate-store SRC DST`: copies an mlruns file store into a sqlite, PostgreSQL or MySQL database store.
import { ToolError } from "../errors.ts"
import type { Command } from "./context.ts"

const usage = (message: string) => new ToolError("usage", message, { hint: "see 'mlproject migrate-store --help'" })

export const migrateStoreCommand: Command = {
  name: "migrate-store",
  usage: "mlproject migrate-store SRC DST [options]",
  summary: [
    "Copy the experiments and runs of an mlruns file store (SRC: a folder or a file: URI) into a database",
    "store (DST: sqlite:///mlflow.db, postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db),",
    "as MLflow's 'mlflow migrate-filestore' does. Run and experiment ids are kept (an experiment whose name the",
    "database already has maps onto that one); params, tags and every metric point are copied, each run in one",
    "transaction. Runs already there are skipped, so running it again copies only what is new. Artifacts are not",
    "copied: runs keep their artifact_uri. Dataset inputs, traces and logged models are left out.",
    "Exit code 0 when everything is in DST, 1 when a run or experiment failed, 2 for a SRC or DST that cannot be used.",
  ].join("\n"),
  maxPositionals: 3,
  options: [],
  async execute(parsed, context) {
    const [source, target, extra] = parsed.positionals
    if (source === undefined || target === undefined) throw usage("expected 'mlproject migrate-store SRC DST': give the mlruns folder and the database URI")
    if (extra !== undefined) throw usage(`unexpected argument '${extra}': migrate-store takes SRC and DST`)
    const { migrateStore } = await import("../tracking/sql/migrate.ts")
    return migrateStore({ source, target, cwd: context.cwd, emit: context.emit, signal: context.interrupt })
  },
}
