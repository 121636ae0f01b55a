// Preparing a local run: the python environment built (or reused) under a lease, and the exact argv, folder and variables.
import type { RunContext } from "../run/context.ts"
import { selfVariables } from "../run/self.ts"
import type { LaunchTarget, Prepared } from "./types.ts"

type Env = Record<string, string | undefined>

/** `mlproject log` works inside every entry point: the running binary is on its PATH and named by MLPROJECT_BIN. */
const withSelf = (env: Env, outer: Env): Env => ({ ...env, ...selfVariables(outer, env.PATH) })

export const prepareLocal = async (target: LaunchTarget, context: RunContext): Promise<Prepared> => {
  const { plan } = target
  const environments = plan.env ? await Promise.all([import("../env/index.ts"), import("../env/activate.ts")]) : null
  // Held until the run has ended, so no gc removes the environment it runs in.
  const lease = plan.env && environments ? environments[0].leaseEnvironment(plan.env) : null
  try {
    const prepared =
      plan.env && environments
        ? await environments[0].buildEnvironment(plan.env, { emit: context.emit, signal: context.interrupt, env: context.env, rebuild: plan.request.rebuildEnv, verbose: plan.request.verbose })
        : null
    const activation = environments?.[1]
    if (!prepared) context.emit({ type: "env.ready", manager: "local", key: null, cached: false })
    const argv = prepared && activation ? ["bash", "-c", activation.wrapCommand(prepared, plan.parameters.command)] : plan.argv
    const activated = prepared && activation ? activation.activatedEnv(prepared, context.env) : context.env
    // MLFLOW_EXPERIMENT_ID names the run's experiment; an inherited MLFLOW_EXPERIMENT_NAME would contradict it, and
    // a nested `mlproject run` or `mlflow run` in the entry point would refuse to pick one.
    const { MLFLOW_EXPERIMENT_NAME: _inherited, ...base } = activated
    return {
      spec: { backend: "local", argv, cwd: plan.cwd },
      env: withSelf({ ...base, ...target.variables }, context.env),
      leases: plan.env && environments && lease ? [environments[0].environmentLeases(plan.env)] : [],
      release: async () => lease?.release(),
    }
  } catch (error) {
    lease?.release()
    throw error
  }
}
