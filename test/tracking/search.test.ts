// The run search grammar and semantics, table-driven; most cases come from MLflow's tests/utils/test_search_utils.py
// (test_filter, test_correct_quote_trimming, test_error_filter, test_bad_quotes, test_invalid_clauses,
// test_correct_filtering, test_correct_sorting, test_order_by_metric_with_nans_infs_nones, test_invalid_order_by_search_runs,
// test_space_order_by_search_runs, test_filter_runs_by_tag_and_param_is_null) with MLflow's expected answers.
import { describe, expect, test } from "bun:test"
import { ToolError } from "../../src/errors.ts"
import { parseFilter } from "../../src/tracking/search-filter.ts"
import { compareText, parseOrderBy } from "../../src/tracking/search-order.ts"
import { likePattern, parseQuery, selectRuns, viewOf } from "../../src/tracking/search-runs.ts"
import type { Run, RunStatus } from "../../src/tracking/types.ts"

const thrown = (fn: () => unknown): ToolError => {
  try {
    fn()
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

describe("filter parsing (MLflow test_filter, test_correct_quote_trimming)", () => {
  test.each([
    ["metric.acc >= 0.94", [{ type: "metric", key: "acc", comparator: ">=", value: 0.94 }]],
    ["metric.acc>=100", [{ type: "metric", key: "acc", comparator: ">=", value: 100 }]],
    ["params.m!='tf'", [{ type: "param", key: "m", comparator: "!=", value: "tf" }]],
    ['params."m"!="tf"', [{ type: "param", key: "m", comparator: "!=", value: "tf" }]],
    ['metric."legit name" >= 0.243', [{ type: "metric", key: "legit name", comparator: ">=", value: 0.243 }]],
    ["metrics.XYZ = 3", [{ type: "metric", key: "XYZ", comparator: "=", value: 3 }]],
    ['params."cat dog" = "pets"', [{ type: "param", key: "cat dog", comparator: "=", value: "pets" }]],
    ['metrics."X-Y-Z" = 3', [{ type: "metric", key: "X-Y-Z", comparator: "=", value: 3 }]],
    ['metrics."X//Y#$$@&Z" = 3', [{ type: "metric", key: "X//Y#$$@&Z", comparator: "=", value: 3 }]],
    ["params.model = 'LinearRegression'", [{ type: "param", key: "model", comparator: "=", value: "LinearRegression" }]],
    [
      "metrics.rmse < 1 and params.model_class = 'LR'",
      [
        { type: "metric", key: "rmse", comparator: "<", value: 1 },
        { type: "param", key: "model_class", comparator: "=", value: "LR" },
      ],
    ],
    ["", []],
    ["`metric`.a >= 0.1", [{ type: "metric", key: "a", comparator: ">=", value: 0.1 }]],
    ["tags.version = 'commit-hash'", [{ type: "tag", key: "version", comparator: "=", value: "commit-hash" }]],
    ["`tags`.source_name = 'a notebook'", [{ type: "tag", key: "source_name", comparator: "=", value: "a notebook" }]],
    ['metrics."accuracy.2.0" > 5', [{ type: "metric", key: "accuracy.2.0", comparator: ">", value: 5 }]],
    ["metrics.`spacey name` > 5", [{ type: "metric", key: "spacey name", comparator: ">", value: 5 }]],
    ['params."p.a.r.a.m" != "a"', [{ type: "param", key: "p.a.r.a.m", comparator: "!=", value: "a" }]],
    ['tags."t.a.g" = "a"', [{ type: "tag", key: "t.a.g", comparator: "=", value: "a" }]],
    ["attribute.artifact_uri = '1/23/4'", [{ type: "attribute", key: "artifact_uri", comparator: "=", value: "1/23/4" }]],
    ["attribute.start_time >= 1234", [{ type: "attribute", key: "start_time", comparator: ">=", value: 1234 }]],
    ["run.status = 'RUNNING'", [{ type: "attribute", key: "status", comparator: "=", value: "RUNNING" }]],
    ["dataset.name = 'my_dataset'", [{ type: "dataset", key: "name", comparator: "=", value: "my_dataset" }]],
    ["tags.version IS NULL", [{ type: "tag", key: "version", comparator: "IS NULL", value: null }]],
    ["params.lr IS NOT NULL", [{ type: "param", key: "lr", comparator: "IS NOT NULL", value: null }]],
    ["params.m = \"L'Hosp\"", [{ type: "param", key: "m", comparator: "=", value: "L'Hosp" }]],
    // Beyond MLflow's table: the forms the brief and the README promise.
    ["status = 'FINISHED'", [{ type: "attribute", key: "status", comparator: "=", value: "FINISHED" }]],
    ["tags.mlflow.runName LIKE 'fox%'", [{ type: "tag", key: "mlflow.runName", comparator: "LIKE", value: "fox%" }]],
    ["metrics.x > -1.5e3", [{ type: "metric", key: "x", comparator: ">", value: -1500 }]],
    ["params.x ilike 'A%'", [{ type: "param", key: "x", comparator: "ILIKE", value: "A%" }]],
    // MLflow keeps only lower-case run ids in a list (str.islower), as its MySQL store needs.
    ["attributes.run_id IN ('ab1', \"cd2\", 'EF3', '123')", [{ type: "attribute", key: "run_id", comparator: "IN", value: ["ab1", "cd2"] }]],
    ["attributes.run_id NOT IN ('ab1',)", [{ type: "attribute", key: "run_id", comparator: "NOT IN", value: ["ab1"] }]],
    // String values are the text between the quotes, nothing unescaped (MLflow's _strip_quotes).
    ["params.q = 'it''s'", [{ type: "param", key: "q", comparator: "=", value: "it''s" }]],
  ])("%s", (filter, clauses) => {
    expect(parseFilter(filter)).toEqual(clauses as ReturnType<typeof parseFilter>)
  })
})

describe("filters MLflow refuses are tracking.filter.invalid, exit 2, with the column (MLflow test_error_filter, test_bad_quotes, test_invalid_clauses)", () => {
  test.each([
    ["metric.acc >= 0.94; metrics.rmse < 1", 19, "one expression only"],
    ["m.acc >= 0.94", 1, "'m' is not an entity"],
    ["acc >= 0.94", 1, "'acc' is not a run attribute"],
    ["p.model >= 'LR'", 1, "'p' is not an entity"],
    ["attri.x != 1", 1, "'attri' is not an entity"],
    ["model >= 'LR'", 1, "'model' is not a run attribute"],
    ["metrics.A > 0.1 OR params.B = 'LR'", 17, "AND only"],
    ["metrics.A > 0.1 NAND params.B = 'LR'", 17, "expected AND"],
    ["metrics.A > 0.1 AND (params.B = 'LR')", 21, "parentheses"],
    ["`metrics.A > 0.1", 1, "never closed"],
    ["attribute.start != 1", 11, "'start' is not a run attribute"],
    ["attribute.experiment_id != 1", 11, "'experiment_id' is not a run attribute"],
    ["attribute.lifecycle_stage = 'ACTIVE'", 11, "'lifecycle_stage' is not a run attribute"],
    ["attribute.status = true", 20, "quoted string"],
    ["dataset.status = 'true'", 9, "not a dataset key"],
    ["metrics.acc IS NULL", 13, "only supported for tags and params"],
    ["attribute.status IS NULL", 18, "only supported for tags and params"],
    ["metric.model = 'LR'", 16, "compared with a number"],
    ["metric.model = '5'", 16, "compared with a number"],
    ["params.acc = 5", 14, "quoted string"],
    ["tags.acc = 5", 12, "quoted string"],
    ["metrics.acc != metrics.acc", 16, "compared with a number"],
    ["1.0 > metrics.acc", 1, "starts with its key"],
    ["attribute.status = 1", 20, "quoted string"],
    ["params.acc = LR", 14, "quoted string"],
    ["params.acc = `LR`", 14, "quoted string"],
    ["params.'acc = LR", 8, "never closed"],
    ["params.acc = 'LR", 14, "never closed"],
    ["params.acc = \"LR'", 14, "never closed"],
    ["tags.acc = = 'LR'", 12, "quoted string"],
    ["attribute.status IS 'RUNNING'", 18, "IS NULL or IS NOT NULL"],
    ["params.acc LR !=", 12, "expected a comparison"],
    ["metric.acc !=", 14, "compared with a number"],
    ["1=1", 1, "starts with its key"],
    // MLflow's comparator checks (test_bad_comparators), made at parse time here.
    ["metrics.abc ~ 1.0", 13, "'~' is not a comparison"],
    ["params.abc > 'my-param-value'", 12, "> does not apply to params"],
    ["tags.abc <= 'my-tag-value'", 10, "<= does not apply to tags"],
    ["attributes.status > 'x'", 19, "> does not apply to attributes.status"],
    ["attributes.start_time LIKE 1234", 23, "LIKE does not apply to attributes.start_time"],
    ["attributes.start_time > 1.5", 25, "whole number"],
    ["attributes.status IN ('a')", 22, "only attributes.run_id takes a list"],
    ["metrics.a == 1", 11, "'==' is not a comparison"],
    ["params.a NOT LIKE 'x'", 10, "NOT works only as NOT IN"],
    // Stricter than sqlparse, which lets these through.
    ["params.a = 'x' AND", 16, "ends with AND"],
    ["params.a = 'x' AND AND params.b = 'y'", 20, "AND twice"],
    ["params.a = 'x' params.b = 'y'", 16, "expected AND"],
  ])("%s → column %d", (filter, column, reason) => {
    const error = thrown(() => parseFilter(filter))
    expect(error.code).toBe("tracking.filter.invalid")
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(`column ${column},`)
    expect(error.message).toContain(reason)
    expect(error.message).toContain(JSON.stringify(filter))
  })
})

describe("order-by parsing (MLflow test_invalid_order_by_search_runs, test_space_order_by_search_runs)", () => {
  test.each([
    ["metrics.`Mean Square Error`", { type: "metric", key: "Mean Square Error", ascending: true }],
    ["metrics.`Mean Square Error` ASC", { type: "metric", key: "Mean Square Error", ascending: true }],
    ["metrics.`Mean Square Error` DESC", { type: "metric", key: "Mean Square Error", ascending: false }],
    ['metrics."key1"  desc', { type: "metric", key: "key1", ascending: false }],
    ["params.my_param aSc", { type: "param", key: "my_param", ascending: true }],
    ["attributes.start_time", { type: "attribute", key: "start_time", ascending: true }],
    ["start_time DESC", { type: "attribute", key: "start_time", ascending: false }],
  ])("%s", (orderBy, key) => {
    expect(parseOrderBy(orderBy)).toEqual(key as ReturnType<typeof parseOrderBy>)
  })

  test.each([
    ["m.acc", "'m' is not an entity"],
    ["acc", "'acc' is not a run attribute"],
    ["attri.x", "'attri' is not an entity"],
    ["`metrics.A", "never closed"],
    ["attribute.start", "'start' is not a run attribute"],
    ["attribute.experiment_id", "'experiment_id' is not a run attribute"],
    ["metrics.A != 1", "ASC or DESC"],
    ["params.my_param ", "remove the space"],
    ["attribute.run_id ACS", "ASC or DESC"],
    ["attribute.run_id decs", "ASC or DESC"],
    ["datasets.name", "cannot be ordered by a dataset"],
    ["", "empty"],
  ])("%s is refused", (orderBy, reason) => {
    const error = thrown(() => parseOrderBy(orderBy))
    expect(error.code).toBe("tracking.order_by.invalid")
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(reason)
  })
})

type RunSpec = { id: string; status?: RunStatus; start?: number; end?: number | null; params?: Record<string, string>; tags?: Record<string, string>; metrics?: Record<string, number> }

const run = (spec: RunSpec): Run => ({
  info: {
    run_id: spec.id,
    experiment_id: "0",
    run_name: spec.tags?.["mlflow.runName"] ?? "",
    user_id: "user-id",
    status: spec.status ?? "FINISHED",
    start_time: spec.start ?? 0,
    end_time: spec.end === undefined ? 1 : spec.end,
    artifact_uri: "",
    lifecycle_stage: "active",
  },
  data: {
    params: spec.params ?? {},
    tags: spec.tags ?? {},
    metrics: Object.fromEntries(Object.entries(spec.metrics ?? {}).map(([key, value]) => [key, { key, value, timestamp: 1, step: 0 }])),
  },
})

const ids = (runs: Run[], filter?: string, orderBy?: string[]): string[] => selectRuns(runs.map(viewOf), parseQuery(filter, orderBy)).map((v) => v.info.run_id)

describe("filtering (MLflow test_correct_filtering and others)", () => {
  // MLflow's three runs: 0 FAILED A key1=121; 1 FINISHED A C key1=123; 2 FAILED B D key1=125 (all start_time 0).
  const runs = [
    run({ id: "a0", status: "FAILED", params: { my_param: "A" }, metrics: { key1: 121 } }),
    run({ id: "a1", params: { my_param: "A" }, tags: { tag1: "C" }, metrics: { key1: 123 } }),
    run({ id: "a2", status: "FAILED", params: { my_param: "B" }, tags: { tag1: "D" }, metrics: { key1: 125 } }),
  ]
  test.each([
    [undefined, ["a0", "a1", "a2"]],
    ["", ["a0", "a1", "a2"]],
    ["attributes.status = 'FAILED'", ["a0", "a2"]],
    ["metrics.key1 = 123", ["a1"]],
    ["metrics.key1 != 123", ["a0", "a2"]],
    ["metrics.key1 >= 123", ["a1", "a2"]],
    ["params.my_param = 'A'", ["a0", "a1"]],
    ["tags.tag1 = 'D'", ["a2"]],
    // A run without the tag matches neither = nor !=.
    ["tags.tag1 != 'D'", ["a1"]],
    ["params.my_param = 'A' AND attributes.status = 'FAILED'", ["a0"]],
    ["tags.tag1 IS NULL", ["a0"]],
    ["tags.tag1 IS NOT NULL", ["a1", "a2"]],
    ["params.my_param LIKE 'a'", []],
    ["params.my_param ILIKE 'a'", ["a0", "a1"]],
    ["attributes.run_id IN ('a0', 'a2')", ["a0", "a2"]],
    ["attributes.run_id NOT IN ('a0')", ["a1", "a2"]],
    ["attributes.run_id LIKE 'a_'", ["a0", "a1", "a2"]],
  ])("%s", (filter, expected) => {
    expect(ids(runs, filter).sort()).toEqual(expected)
  })

  test("start_time, end_time and user_id (test_filter_runs_by_start_time, _end_time, _user_id); a RUNNING run's end_time matches nothing", () => {
    const timed = [run({ id: "a", start: 0, end: 0 }), run({ id: "b", start: 1, end: 1 }), run({ id: "c", start: 2, end: 2 }), run({ id: "d", start: 3, end: null })]
    expect(ids(timed, "attribute.start_time >= 0").sort()).toEqual(["a", "b", "c", "d"])
    expect(ids(timed, "attribute.start_time > 1").sort()).toEqual(["c", "d"])
    expect(ids(timed, "attribute.start_time = 2")).toEqual(["c"])
    expect(ids(timed, "created = 2")).toEqual(["c"])
    expect(ids(timed, "attribute.end_time > 1")).toEqual(["c"])
    expect(ids(timed, "attribute.end_time != 1").sort()).toEqual(["a", "c"])
    expect(ids([...timed, { ...run({ id: "e" }), info: { ...run({ id: "e" }).info, user_id: "user-id2" } }], "attribute.user_id = 'user-id2'")).toEqual(["e"])
  })

  test("NaN is unequal to everything, as in Python", () => {
    const nan = [run({ id: "n", metrics: { m: NaN } }), run({ id: "one", metrics: { m: 1 } })]
    expect(ids(nan, "metrics.m != 1")).toEqual(["n"])
    expect(ids(nan, "metrics.m = 1")).toEqual(["one"])
    expect(ids(nan, "metrics.m < 10")).toEqual(["one"])
  })

  test("LIKE is SQL's: % and _ are the only wildcards; a regex character is itself", () => {
    expect(likePattern("jamie-foo C+%", false).test("jamie-foo C+W bar")).toBe(true)
    expect(likePattern("a.b", false).test("axb")).toBe(false)
    expect(likePattern("(x)%", false).test("(x) y")).toBe(true)
    expect(likePattern("line%", false).test("line one\nline two")).toBe(true)
    expect(likePattern("Ä_", true).test("äb")).toBe(true)
  })

  test("run_name falls back to the mlflow.runName tag, as MLflow's file store does for 1.x runs", () => {
    const old = run({ id: "x", tags: { "mlflow.runName": "calm-fox" } })
    old.info.run_name = ""
    expect(ids([old], "attributes.run_name = 'calm-fox'")).toEqual(["x"])
    expect(ids([old], "`Run Name` LIKE 'calm%'")).toEqual(["x"])
  })
})

describe("ordering (MLflow test_correct_sorting, test_order_by_metric_with_nans_infs_nones)", () => {
  // MLflow's runs: ids 9, 8, 7; statuses FAILED, FINISHED, FAILED; start 0, 1, 1.
  const runs = [
    run({ id: "9", status: "FAILED", start: 0, params: { my_param: "A" }, metrics: { key1: 121 } }),
    run({ id: "8", status: "FINISHED", start: 1, params: { my_param: "A" }, tags: { tag1: "C" }, metrics: { key1: 123 } }),
    run({ id: "7", status: "FAILED", start: 1, params: { my_param: "B" }, tags: { tag1: "D" }, metrics: { key1: 125 } }),
  ]
  const order = (indices: number[]) => indices.map((i) => (runs[i] as Run).info.run_id)
  test.each([
    [[], [2, 1, 0]],
    [["tags.noSuchTag"], [2, 1, 0]],
    [["attributes.status"], [2, 0, 1]],
    [["attributes.start_time"], [0, 2, 1]],
    [["metrics.key1 asc"], [0, 1, 2]],
    [['metrics."key1"  desc'], [2, 1, 0]],
    [["params.my_param"], [1, 0, 2]],
    [["params.my_param aSc", "attributes.status  ASC"], [0, 1, 2]],
    [["params.my_param", "attributes.status DESC"], [1, 0, 2]],
    [["params.my_param DESC", "attributes.status   DESC"], [2, 1, 0]],
    [["params.`my_param` DESC", "attributes.status DESC"], [2, 1, 0]],
    [["tags.tag1"], [1, 2, 0]],
    [["tags.tag1    DESC"], [2, 1, 0]],
  ])("%j", (orderBy, expected) => {
    expect(ids(runs, undefined, orderBy as string[])).toEqual(order(expected))
  })

  test("NaN and missing values come last in both directions, NaN first", () => {
    const values = ["nan", "inf", "-inf", "-1000", "0", "1000", "None"]
    const metricRuns = values.map((x) => run({ id: x, metrics: x === "None" ? {} : { x: Number(x.replace("nan", "NaN").replace("inf", "Infinity")) } }))
    expect(ids(metricRuns, undefined, ["metrics.x asc"])).toEqual(["-inf", "-1000", "0", "1000", "inf", "nan", "None"])
    expect(ids(metricRuns, undefined, ["metrics.x desc"])).toEqual(["inf", "1000", "0", "-1000", "-inf", "nan", "None"])
  })

  test("strings order by code point, as Python's do (not by UTF-16 unit)", () => {
    expect(compareText("\u{1F600}", "\uFF5E")).toBeGreaterThan(0)
    expect("\u{1F600}" < "\uFF5E").toBe(true)
    const texts = [run({ id: "p", start: 2, params: { t: "\u{1F600}" } }), run({ id: "q", start: 1, params: { t: "\uFF5E" } })]
    expect(ids(texts, undefined, ["params.t"])).toEqual(["q", "p"])
  })
})
