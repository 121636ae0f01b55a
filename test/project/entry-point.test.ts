// Choosing the entry point: declared ones, .py/.sh/.R scripts (spec cases 15–19), and clear errors otherwise.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { entryPointFor } from "../../src/project/entry-point.ts"
import { loadProject } from "../../src/project/load.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { exampleProject } from "./fixtures.ts"
import { thrown as error } from "../lib/caught.ts"



describe("entryPointFor", () => {
  test("case 15: a declared entry point keeps its command verbatim and its parameters", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", exampleProject)
    dir.write("conda.yaml", "name: x\n")
    const ep = entryPointFor(loadProject(dir.path).project, "greeter")
    expect(ep.name).toBe("greeter")
    expect(ep.command).toBe("python greeter.py {greeting} {name}")
    expect(ep.script).toBe(false)
    expect(ep.parameters.map((p) => [p.name, p.type, p.default])).toEqual([
      ["greeting", "string", "hi"],
      ["name", "string", null],
    ])
  })

  const scripts = async () => {
    const dir = tmpdirFor()
    for (const f of ["my_script.py", "my_script.sh", "x.R", "sub/dir/run.py", "my script.py"]) dir.write(f, "")
    return dir
  }

  test("case 16: an undeclared .py file runs with python", async () => {
    await using dir = await scripts()
    const { project } = loadProject(dir.path)
    expect(entryPointFor(project, "my_script.py")).toEqual({ name: "my_script.py", command: "python my_script.py", parameters: [], script: true, problems: [] })
    expect(entryPointFor(project, "sub/dir/run.py").command).toBe("python sub/dir/run.py")
    expect(entryPointFor(project, "my script.py").command).toBe("python 'my script.py'")
  })

  test("case 17: an undeclared .sh file runs with $SHELL, or bash", async () => {
    await using dir = await scripts()
    const { project } = loadProject(dir.path)
    expect(entryPointFor(project, "my_script.sh", { SHELL: "/bin/zsh" }).command).toBe("/bin/zsh my_script.sh")
    expect(entryPointFor(project, "my_script.sh", {}).command).toBe("bash my_script.sh")
  })

  test("case 18: anything else is not found, listing the declared entry points (and .R, unlike MLflow)", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "entry_points:\n  main: {command: a}\n  train: {command: b}\n")
    const e = error(() => entryPointFor(loadProject(dir.path).project, "my_program.scala"))
    expect(e.code).toBe("entry_point.not_found")
    expect(e.message).toBe(
      "Could not find my_program.scala among entry points ['main', 'train'] or interpret my_program.scala as a runnable script. Supported script file extensions: ['.py', '.sh', '.R']",
    )
    expect(e.hint).toBe("declared entry points: main, train")
    expect(e.exitCode).toBe(2)
  })

  test("case 19: an undeclared .R file runs through mlflow_source", async () => {
    await using dir = await scripts()
    expect(entryPointFor(loadProject(dir.path).project, "x.R").command).toBe(`Rscript -e "mlflow::mlflow_source('x.R')" --args`)
  })

  test("os.path.splitext rules: .py only as a real extension, case-sensitive", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "entry_points:\n  other: {command: x}\n")
    for (const f of [".py", "train.PY", "x.r"]) dir.write(f, "")
    const { project } = loadProject(dir.path)
    for (const name of [".py", "train.PY", "x.r", "main"]) {
      expect(error(() => entryPointFor(project, name)).message).toStartWith(`Could not find ${name} among entry points ['other'] `)
    }
  })

  test("a script that does not exist is a clear error (MLflow would run it and fail later)", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\n")
    const e = error(() => entryPointFor(loadProject(dir.path).project, "train.py"))
    expect(e.code).toBe("entry_point.not_found")
    expect(e.message).toBe(`script entry point train.py does not exist in the project folder ${dir.path}`)
    expect(e.hint).toBe("this project declares no entry points: pass a .py, .sh or .R file of the project with -e; a script path is relative to the project folder")
  })

  test("a folder without MLproject says so, not 'Could not find main among entry points []'", async () => {
    await using empty = tmpdirFor()
    for (const name of ["main", "train.py"]) {
      const e = error(() => entryPointFor(loadProject(empty.path).project, name))
      expect([e.code, e.message]).toEqual(["project.no_mlproject", `no MLproject in ${empty.path}, and no .py, .sh or .R script to run with -e`])
    }
    await using withScript = tmpdirFor()
    withScript.write("src/train.py", "")
    const e = error(() => entryPointFor(loadProject(withScript.path).project, "main"))
    expect([e.code, e.message, e.hint]).toEqual([
      "project.no_mlproject",
      `no MLproject in ${withScript.path}, and 'main' is not a .py, .sh or .R file of the project`,
      "name one of its scripts with -e (e.g. -e train.py), or add an MLproject file",
    ])
    expect(entryPointFor(loadProject(withScript.path).project, "src/train.py").command).toBe("python src/train.py")
  })

  test("a declared name wins over a script of the same name", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "entry_points:\n  train.py: {command: python other.py}\n")
    expect(entryPointFor(loadProject(dir.path).project, "train.py")).toMatchObject({ command: "python other.py", script: false })
  })

  test("an entry point with problems cannot run; the others can", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", 'entry_points:\n  main:\n    command: "python t.py {data}"\n  other:\n    command: python o.py\n')
    const { project } = loadProject(dir.path)
    expect(entryPointFor(project, "other").command).toBe("python o.py")
    const e = error(() => entryPointFor(project, "main"))
    expect(e.code).toBe("entry_point.invalid")
    expect(e.message).toBe("entry point 'main' cannot run: placeholder {data} in the command of entry point 'main' is not a declared parameter (declared: none)")
    expect(e.hint).toBe("declare it under parameters or escape the braces as {{ }}")
    expect(e.location).toEqual({ file: join(dir.path, "MLproject"), line: 3, column: 27 })
  })

  test("databricks spark jobs: python_file projects have no entry points; others only declared ones", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "databricks_spark_job:\n  python_file: job.py\n")
    dir.write("x.py", "")
    expect(error(() => entryPointFor(loadProject(dir.path).project, "main")).code).toBe("entry_point.databricks")
    await using eps = tmpdirFor()
    eps.write("MLproject", "databricks_spark_job: {}\nentry_points:\n  main: {command: a}\n")
    eps.write("x.py", "")
    const { project } = loadProject(eps.path)
    expect(entryPointFor(project, "main").command).toBe("a")
    expect(error(() => entryPointFor(project, "x.py")).message).toBe("The entry point 'x.py' is not defined in the Databricks spark job MLproject file.")
  })
})
