// PyYAML's implicit resolution of plain scalars (YAML 1.1), as PyYAML 6 answers: the shortcuts must agree with it.
import { expect, test } from "bun:test"
import { resolvePlain } from "../../src/util/pyyaml-resolver.ts"

// Each row is what `yaml.safe_load("k: " + text)["k"]`'s type is in PyYAML 6.
test.each([
  ["", "null"],
  ["~", "null"],
  ["Null", "null"],
  ["nULL", "str"],
  ["yes", "bool"],
  ["Off", "bool"],
  ["y", "str"],
  ["<<", "merge"],
  ["=", "value"],
  ["0", "int"],
  ["007", "int"],
  ["0b101", "int"],
  ["0x1F", "int"],
  ["0x", "str"],
  ["1_000", "int"],
  ["1:20", "int"],
  ["1:20.5", "float"],
  ["1.5", "float"],
  ["1.", "float"],
  ["1e3", "str"],
  ["1.0e+5", "float"],
  ["1.0e5", "str"],
  [".5", "float"],
  [".inf", "float"],
  ["-.inf", "float"],
  [".nan", "float"],
  ["+1", "int"],
  ["-1_0", "int"],
  ["2001-12-14", "timestamp"],
  ["2001-12-14t21:59:43.10-05:00", "timestamp"],
  ["2001-12-1", "str"],
  ["88ec08b30c3643b09b76643b43755964", "str"],
  ["12345678901234567890", "int"],
  ["3f2a", "str"],
  ["1-2", "str"],
  ["file:///tmp/mlruns/0", "str"],
  ["Default", "str"],
  ["constructor", "str"],
  ["__proto__", "str"],
] as const)("%j reads back as %s", (text, tag) => {
  expect(resolvePlain(text)).toBe(tag)
})
