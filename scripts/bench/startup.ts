// Startup benchmark: `mlproject --version` and `mlproject describe <example>` against `bash -c true`.
import { join } from "node:path"
import { measure, report } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const example = join(root, "examples", "hello")
const rounds = Number(process.env.ROUNDS ?? 60)

const medians = measure(
  [
    { name: "bash -c true", argv: ["bash", "-c", "true"] },
    { name: "mlproject --version", argv: [binary, "--version"] },
    { name: "mlproject describe examples/hello", argv: [binary, "describe", example] },
  ],
  rounds,
)
report(`startup, median of ${rounds} interleaved runs`, medians, "bash -c true", {
  "mlproject --version": "<= 15 ms",
  "mlproject describe examples/hello": "<= 30 ms",
})
