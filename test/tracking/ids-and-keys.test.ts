// Experiment and run id shapes, and MLflow's rules for keys, values and batches.
import { describe, expect, test } from "bun:test"
import { generateExperimentId, generateRunId, isExperimentId, isRunId } from "../../src/tracking/experiment-id.ts"
import { normalizePosixPath, validateBatch, validateExperimentName, validateKey, validateParam } from "../../src/tracking/key-rules.ts"

describe("ids", () => {
  test("experiment ids are 18 digits with no leading zero, like MLflow 2.x/3.x ids", () => {
    const ids = Array.from({ length: 2000 }, generateExperimentId)
    for (const id of ids) expect(id).toMatch(/^[1-9][0-9]{17}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })

  test("run ids are 32 lowercase hex characters", () => {
    for (let i = 0; i < 200; i++) expect(generateRunId()).toMatch(/^[0-9a-f]{32}$/)
  })

  test.each([
    ["0", true],
    ["452814650537448538", true],
    ["my-exp_1", true],
    [".trash", false],
    ["../0", false],
    ["a/b", false],
    ["", false],
    ["x".repeat(65), false],
  ])("experiment id %j is valid: %p", (id, valid) => {
    expect(isExperimentId(id)).toBe(valid)
  })

  test.each([
    ["0492bd618f43465b8be0e44ec96ee9ec", true],
    ["../../etc", false],
    [".mlproject-tmp-1", false],
  ])("run id %j is valid: %p", (id, valid) => {
    expect(isRunId(id)).toBe(valid)
  })
})

describe("keys name exactly one file under params/, tags/ or metrics/", () => {
  test.each([
    "alpha",
    "mlflow.source.git.commit",
    "Run Time", // PyCaret's tag names have spaces
    "a/b",
    "hyperparameters.verbosity",
    "ns:key",
    "größe",
  ])("accepts %j", (key) => {
    expect(() => validateKey("tag", key)).not.toThrow()
  })

  test.each([
    ["", "resolve to '.'"],
    ["..", "resolve to '..'"],
    ["../x", "resolve to '../x'"],
    ["..a", "resolve to '..a'"],
    ["/abs", "resolve to '/abs'"],
    ["a//b", "resolve to 'a/b'"],
    ["a/./b", "resolve to 'a/b'"],
    ["a/", "resolve to 'a'"],
    ["a/../b", "resolve to 'b'"],
    ["a\\b", "Names may only contain"],
    ["a\nb", "Names may only contain"],
    ["a$b", "Names may only contain"],
  ])("refuses %j", (key, reason) => {
    expect(() => validateKey("param", key)).toThrow(reason)
  })

  test("refuses keys over 250 characters", () => {
    expect(() => validateKey("param", "k".repeat(251))).toThrow("250")
  })

  test.each([
    ["a/b/../c", "a/c"],
    ["//a", "//a"],
    ["///a", "/a"],
    ["../../a", "../../a"],
    ["/../a", "/a"],
    ["", "."],
  ])("posixpath.normpath(%j) = %j", (path, normalized) => {
    expect(normalizePosixPath(path)).toBe(normalized)
  })
})

describe("values and batches", () => {
  test("param values up to 6000 characters", () => {
    expect(() => validateParam({ key: "p", value: "v".repeat(6000) })).not.toThrow()
    expect(() => validateParam({ key: "p", value: "v".repeat(6001) })).toThrow("at most 6000")
  })

  test("batch limits and duplicate params", () => {
    const params = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: "" }))
    expect(() => validateBatch(params(100), [], [])).not.toThrow()
    expect(() => validateBatch(params(101), [], [])).toThrow("at most 100 params")
    expect(() => validateBatch([{ key: "a", value: "1" }, { key: "a", value: "1" }], [], [])).toThrow("Duplicate parameter keys")
    expect(() => validateBatch([], [], [{ key: "m", value: 1, timestamp: -1, step: 0 }])).toThrow("timestamp")
    expect(() => validateBatch([], [], [{ key: "m", value: 1, timestamp: 1, step: 0.5 }])).toThrow("step")
  })

  test("experiment names", () => {
    expect(() => validateExperimentName("")).toThrow("Invalid experiment name")
    expect(() => validateExperimentName("x".repeat(501))).toThrow("500")
    expect(() => validateExperimentName("any: name, even 'quoted'")).not.toThrow()
  })
})

describe("the ASCII checks answer as MLflow's Unicode patterns do", () => {
  const experimentPattern = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,63}$/u
  const runPattern = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,255}$/u
  const keyPattern = /^[/\p{L}\p{N}_.\- :]*$/u
  const ascii = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code))
  const texts = [
    ...ascii.flatMap((c) => [c, `a${c}`, `${c}a`, `a${c}b`]),
    "a".repeat(64),
    "a".repeat(65),
    "a".repeat(256),
    "a".repeat(257),
    "é",
    "aé",
    "a١",
    "a😀",
    "loss/val acc:1",
  ]

  test("ids", () => {
    expect(texts.filter((t) => isExperimentId(t) !== experimentPattern.test(t))).toEqual([])
    expect(texts.filter((t) => isRunId(t) !== runPattern.test(t))).toEqual([])
  })

  test("key names", () => {
    const shapeRefused = (key: string) => {
      try {
        validateKey("metric", key)
        return false
      } catch (error) {
        return (error as Error).message.includes("Names may only contain")
      }
    }
    expect(texts.filter((t) => shapeRefused(t) === keyPattern.test(t))).toEqual([])
  })
})
