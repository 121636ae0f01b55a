// Sweep specs: lists, inclusive ranges written as given, the grid's order, seeded random picks, bad specs named.
import { describe, expect, test } from "bun:test"
import { gridTrials, parseAxis, randomTrials } from "../../src/run/sweep-grid.ts"
import { thrown } from "../lib/caught.ts"

describe("one -P spec", () => {
  test.each([
    ["0.1,0.5,1.0", ["0.1", "0.5", "1.0"]],
    ["0.1:0.9:0.2", ["0.1", "0.3", "0.5", "0.7", "0.9"]],
    ["1:10:3", ["1", "4", "7", "10"]],
    ["0:1:0.25", ["0.00", "0.25", "0.50", "0.75", "1.00"]],
    ["1:2:5", ["1"]],
    ["adam,sgd", ["adam", "sgd"]],
    ["only", ["only"]],
    ["a,a,b", ["a", "b"]],
    ["http://x:8080/y", ["http://x:8080/y"]],
    ["a:b:c", ["a:b:c"]],
    ["-1:1:1", ["-1", "0", "1"]],
  ])("%s", (spec, values) => {
    expect(parseAxis("p", spec).values).toEqual(values)
  })

  test.each([
    ["0.1:0.9:0", "the step must be above zero"],
    ["0.1:0.9:-0.2", "the step must be above zero"],
    ["1:0:0.1", "ends (0) before it starts (1)"],
    ["0:1:0.00001", "more than a sweep takes"],
    ["0.1,,0.5", "an empty value"],
  ])("%s is a usage error", (spec, message) => {
    const error = thrown(() => parseAxis("alpha", spec))
    expect(error.code).toBe("usage")
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(`-P alpha=${spec}`)
    expect(error.message).toContain(message)
  })
})

describe("trials", () => {
  const axes = [parseAxis("a", "1,2,3"), parseAxis("b", "x,y")]
  test("the grid is the cartesian product, the first axis varying slowest", () => {
    expect(gridTrials(axes)).toEqual([
      [["a", "1"], ["b", "x"]], [["a", "1"], ["b", "y"]],
      [["a", "2"], ["b", "x"]], [["a", "2"], ["b", "y"]],
      [["a", "3"], ["b", "x"]], [["a", "3"], ["b", "y"]],
    ])
  })

  test("random picks are distinct trials of the grid, the same for the same seed, others for another", () => {
    const picked = randomTrials(axes, 4, 7)
    expect(picked).toHaveLength(4)
    expect(new Set(picked.map((t) => JSON.stringify(t))).size).toBe(4)
    for (const trial of picked) expect(gridTrials(axes).map((t) => JSON.stringify(t))).toContain(JSON.stringify(trial))
    expect(randomTrials(axes, 4, 7)).toEqual(picked)
    expect(randomTrials(axes, 6, 8)).not.toEqual(randomTrials(axes, 6, 7))
    expect(randomTrials(axes, 99, 1)).toHaveLength(6)
  })
})
