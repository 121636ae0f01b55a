// The loader: MLflow's load_project rules (spec cases 1–14) and every located diagnostic we add on top.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { inspectProject, loadProject } from "../../src/project/load.ts"

import { brief, loadError, project } from "./fixtures.ts"

describe("MLflow load_project cases", () => {
  test("case 1: an empty folder has no entry points, no name and no environment file", async () => {
    await using dir = project({})
    const { project: p, warnings } = loadProject(dir.path)
    expect(p).toMatchObject({ dir: dir.path, file: null, name: null, env: { kind: "none" }, entry_points: [] })
    expect(warnings).toEqual([])
  })

  test("case 2: an unrelated key is a warning; conda.yaml beside it is taken implicitly", async () => {
    await using dir = project({ MLproject: "key: value\n", "conda.yaml": "name: env\ndependencies: [python=3.9]\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.entry_points).toEqual([])
    expect(p.env).toEqual({ kind: "conda_env", file: join(dir.path, "conda.yaml"), implicit: true })
    expect(readFileSync(p.env.kind === "conda_env" ? p.env.file : "", "utf8")).toBe("name: env\ndependencies: [python=3.9]\n")
    expect(warnings.map(brief)).toEqual([["warning", "project.unknown_key", 1, 1, null]])
    expect(warnings[0]?.message).toBe("unknown top-level key 'key': MLflow ignores it")
  })

  test("case 3: the file name is matched case-insensitively; conda_env names the file", async () => {
    await using dir = project({ mlproject: "conda_env: some-env.yaml\n", "some-env.yaml": "name: x\n" })
    const { project: p } = loadProject(dir.path)
    expect(p.file).toBe(join(dir.path, "mlproject"))
    expect(p.env).toEqual({ kind: "conda_env", file: join(dir.path, "some-env.yaml"), implicit: false })
  })

  test("case 4: docker_env with an image and no entry points", async () => {
    await using dir = project({ MLproject: "docker_env:\n  image: some-image\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.entry_points).toEqual([])
    expect(p.env).toEqual({ kind: "docker", docker: { image: "some-image", volumes: [], environment: [] } })
    // MLflow's docker runner refuses a project without a name (spec case 37), so we say so up front.
    expect(warnings.map((w) => w.code)).toEqual(["docker_env.no_name"])
  })

  test("case 5: python_env names its file", async () => {
    await using dir = project({ MLproject: "python_env: python_env.yaml\n", "python_env.yaml": "python: 3.8.15\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.env).toEqual({ kind: "python_env", file: join(dir.path, "python_env.yaml"), implicit: false })
    expect(warnings).toEqual([])
  })

  test("case 6: several environment fields are rejected; a key counts even when null", async () => {
    await using dir = project({ MLproject: "name: p\ndocker_env:\n  image: x\nconda_env: ~\n" })
    const error = loadError(dir.path)
    expect(error.code).toBe("project.invalid")
    expect(error.message).toBe("Project cannot contain multiple environment fields: {'conda_env', 'docker_env'}")
    expect(error.location).toEqual({ file: join(dir.path, "MLproject"), line: 4, column: 1 })
    expect(error.hint).toBe("keep only one of docker_env, python_env and conda_env (a key counts even when it is empty)")
  })

  test("case 7: docker_env without an image", async () => {
    await using dir = project({ MLproject: "name: p\ndocker_env:\n  not-image-attribute: blah\n" })
    const error = loadError(dir.path)
    expect(error.message).toBe("Project configuration (MLproject file) was invalid: Docker environment specified but no image attribute found.")
    expect(error.location).toEqual({ file: join(dir.path, "MLproject"), line: 3, column: 3 })
  })

  test("case 8: docker volumes must be a list of strings", async () => {
    await using dir = project({ MLproject: "name: p\ndocker_env:\n  image: x\n  volumes: /a:/a\n" })
    const error = loadError(dir.path)
    expect(error.message).toBe(`Project configuration (MLproject file) was invalid: Docker volumes must be a list of strings, e.g.: '["/path1/:/path1", "/path2/:/path2"])`)
    expect(error.location).toEqual({ file: join(dir.path, "MLproject"), line: 4, column: 12 })
  })

  test("case 9: docker environment must hold strings or pairs (MLflow's missing space kept)", async () => {
    await using dir = project({ MLproject: "name: p\ndocker_env:\n  image: x\n  environment: {A: b}\n" })
    expect(loadError(dir.path).message).toBe(
      `Project configuration (MLproject file) was invalid: environment must be a list containing either strings (to copy environment variables from host system) or lists of string pairs (to define new environment variables).E.g.: '[["NEW_VAR", "new_value"], "VAR_TO_COPY_FROM_HOST"])`,
    )
  })

  test("docker environment: strings copy, pairs set, a short pair is an error", async () => {
    await using ok = project({ MLproject: 'name: p\ndocker_env:\n  image: x\n  volumes: ["/a:/b"]\n  environment: [HOME, ["N", 5]]\n' })
    expect(loadProject(ok.path).project.env).toEqual({ kind: "docker", docker: { image: "x", volumes: ["/a:/b"], environment: ["HOME", ["N", "5"]] } })
    await using bad = project({ MLproject: "name: p\ndocker_env:\n  image: x\n  environment: [[ONLY]]\n" })
    expect(loadError(bad.path).message).toBe("Project configuration (MLproject file) was invalid: environment entry ['ONLY'] must be a [NAME, VALUE] pair")
  })

  test("case 10: a missing python_env file", async () => {
    await using dir = project({ MLproject: "python_env: env/python_env.yaml\n" })
    const error = loadError(dir.path)
    expect(error.message).toBe(`Project specified python_env file ${dir.path}/env/python_env.yaml, but no such file was found.`)
    expect(error.location).toEqual({ file: join(dir.path, "MLproject"), line: 1, column: 13 })
  })

  test("case 11: a missing conda_env file; the path is joined, not normalised, so ../ and ./ work", async () => {
    await using dir = project({ MLproject: "conda_env: nope.yaml\n" })
    expect(loadError(dir.path).message).toBe(`Project specified conda environment file ${dir.path}/nope.yaml, but no such file was found.`)
    await using outer = project({ "proj/MLproject": "conda_env: ../env.yml\n", "env.yml": "name: x\n", "proj/conda.yaml": "x: 1\n" })
    expect(loadProject(join(outer.path, "proj")).project.env).toEqual({ kind: "conda_env", file: `${outer.path}/proj/../env.yml`, implicit: false })
    await using dotted = project({ MLproject: "conda_env: ./conda.yaml\n", "conda.yaml": "name: x\n" })
    expect(loadProject(dotted.path).project.env).toMatchObject({ kind: "conda_env", file: `${dotted.path}/./conda.yaml` })
  })

  test("case 12: precedence docker, python, conda, python_env.yaml, conda.yaml; empty values are skipped with a warning", async () => {
    await using both = project({ "python_env.yaml": "python: '3.10'\n", "conda.yaml": "name: x\n" })
    expect(loadProject(both.path).project.env).toEqual({ kind: "python_env", file: join(both.path, "python_env.yaml"), implicit: true })
    await using empty = project({ MLproject: 'conda_env: ""\n', "conda.yaml": "name: x\n" })
    const { project: p, warnings } = loadProject(empty.path)
    expect(p.env).toEqual({ kind: "conda_env", file: join(empty.path, "conda.yaml"), implicit: true })
    expect(warnings.map(brief)).toEqual([["warning", "env.empty", 1, 1, null]])
    await using emptyDocker = project({ MLproject: "docker_env: {}\n" })
    expect(loadProject(emptyDocker.path).project.env).toEqual({ kind: "none" })
  })

  describe("case 13: databricks_spark_job", () => {
    const cases: Array<[string, string]> = [
      ["databricks_spark_job: {parameters: [a]}\n", "Databricks Spark job requires either 'databricks_spark_job.python_file' setting or 'entry_points' setting."],
      ["databricks_spark_job: {python_file: a.py}\nentry_points:\n  main: {command: x}\n", "Databricks Spark job does not allow setting both 'databricks_spark_job.python_file' and 'entry_points'."],
      ["databricks_spark_job: {}\nentry_points:\n  main:\n    parameters: {data: path}\n    command: x {data}\n", "Databricks Spark job does not support entry point parameter of 'path' type. 'data' value type is invalid."],
      ["databricks_spark_job: {python_file: a.py}\ndocker_env: {image: x}\n", "Databricks Spark job does not support setting docker environment."],
      ["databricks_spark_job: {python_file: a.py}\npython_env: p.yaml\n", "Databricks Spark job does not support setting python environment."],
      ["databricks_spark_job: {python_file: a.py}\nconda_env: c.yaml\n", "Databricks Spark job does not support setting conda environment."],
    ]
    for (const [text, message] of cases) {
      test(message, async () => {
        await using dir = project({ MLproject: text })
        expect(loadError(dir.path).message).toStartWith(message)
      })
    }
    test("a valid spark job keeps its file, parameters and libraries", async () => {
      await using dir = project({ MLproject: "databricks_spark_job:\n  python_file: job.py\n  parameters: [--a, 1]\n  python_libraries: [numpy]\n" })
      const { project: p } = loadProject(dir.path)
      expect(p.databricks_spark_job).toEqual({ python_file: "job.py", parameters: ["--a", "1"], python_libraries: ["numpy"] })
      expect(p.env).toEqual({ kind: "none" })
    })
  })

  describe("case 14: what MLflow crashes on gets a located error", () => {
    const cases: Array<[string, string, string, number, number]> = [
      ["", "project.empty", "MLproject is empty: MLflow crashes on an empty MLproject", 1, 1],
      ["# just a comment\n", "project.empty", "MLproject is empty: MLflow crashes on an empty MLproject", 1, 1],
      ["- a\n- b\n", "project.not_mapping", "MLproject must be a mapping of keys (name, entry_points, …), but it is a list", 1, 1],
      ["entry_points:\n  - main:\n      command: x\n", "entry_points.invalid", "entry_points must be a mapping of entry point names to {command, parameters}, but it is a list", 2, 3],
      ["entry_points:\n", "entry_points.invalid", "entry_points must be a mapping of entry point names to {command, parameters}, but it is null", 1, 14],
      ["name: p\ndocker_env: mlflow_app\n", "docker_env.invalid", "Project configuration (MLproject file) was invalid: docker_env must be a mapping with an image, but it is the string 'mlflow_app'", 2, 13],
      ["name: [unclosed\n", "yaml.syntax", "", 1, 0],
    ]
    for (const [text, code, message, line, column] of cases) {
      test(`${code}: ${JSON.stringify(text)}`, async () => {
        await using dir = project({ MLproject: text })
        const { project: p, diagnostics } = inspectProject(dir.path)
        const error = diagnostics.find((d) => d.severity === "error")
        expect(error?.code).toBe(code)
        if (message) expect(error?.message).toBe(message)
        expect(error?.file).toBe(join(dir.path, "MLproject"))
        expect(error?.line).toBeGreaterThanOrEqual(line)
        if (column) expect(error?.column).toBe(column)
        if (code.startsWith("yaml.") || code.startsWith("project.")) expect(p).toBeNull()
        expect(loadError(dir.path).code).toBe("project.invalid")
      })
    }

    test("an entry point that is not a mapping, or null parameters, only break that entry point", async () => {
      await using dir = project({
        MLproject: "entry_points:\n  main:\n    command: python a.py\n  greet: python greet.py\n  other:\n    parameters:\n    command: python b.py\n",
      })
      const { project: p, warnings } = loadProject(dir.path)
      expect(warnings).toEqual([])
      expect(p.entry_points.map((ep) => [ep.name, ep.problems.map(brief)])).toEqual([
        ["main", []],
        ["greet", [["error", "entry_point.invalid", 4, 3, "greet"]]],
        ["other", [["error", "entry_point.parameters", 6, 5, "other"]]],
      ])
      expect(p.entry_points[1]?.problems[0]?.hint).toBe("write greet: {command: <shell command>}")
    })

    test("a null parameter spec only breaks its entry point", async () => {
      await using dir = project({ MLproject: "entry_points:\n  main:\n    parameters:\n      alpha:\n    command: python a.py {alpha}\n" })
      const ep = loadProject(dir.path).project.entry_points[0]
      expect(ep?.problems.map((d) => d.message)).toEqual(["parameter 'alpha' must be a type name or a mapping with type and default, but it is null"])
    })
  })
})

describe("loadProject reports the first file-level error with a count of the rest", () => {
  test("message, location and hint", async () => {
    await using dir = project({ MLproject: "name: p\ndocker_env: {volumes: 1}\nconda_env: missing.yaml\n" })
    const error = loadError(dir.path)
    expect(error.code).toBe("project.invalid")
    expect(error.exitCode).toBe(2)
    expect(error.location).toEqual({ file: join(dir.path, "MLproject"), line: 2, column: 13 })
    expect(error.message).toBe(
      "Project configuration (MLproject file) was invalid: Docker environment specified but no image attribute found. (2 more errors: run `mlproject validate` to list them all)",
    )
    expect(error.hint).toBe("add image: <name[:tag]> under docker_env")
    const { diagnostics } = inspectProject(dir.path)
    // Sorted by position; conda_env is never looked at because docker_env wins, as in MLflow.
    expect(diagnostics.filter((d) => d.severity === "error").map(brief)).toEqual([
      ["error", "docker_env.invalid", 2, 13, null],
      ["error", "docker_env.invalid", 2, 23, null],
      ["error", "env.multiple", 3, 1, null],
    ])
  })
})
