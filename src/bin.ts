// Entry point: `--version` answered before anything is loaded; every other command line goes to src/main.ts.
import { version } from "./version.ts"

// console.log, not process.stdout: creating the stream alone costs more than the rest of this answer. `--json`
// anywhere wants the version event, which the renderers in main.ts write.
const [first] = process.argv.slice(2)
if ((first === "--version" || first === "-V") && !process.argv.includes("--json")) console.log(`mlproject ${version}`)
else {
  // The binary starts with a reluctant JIT for run-once startup code (scripts/build.ts); a command still at work after
  // a moment (a download, a log stream, a supervisor) gets the normal policy back.
  setTimeout(() => Bun.unsafe.setJITPolicy(1), 25).unref()
  await import("./main.ts")
}
