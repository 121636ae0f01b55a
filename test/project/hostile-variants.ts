// Generated hostile projects: template conversions and specs, symlinks out, special files, huge files, deep nesting, binary garbage, wrong types.
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** The host outside every variant's project: a secret that must never be echoed, and a mark that nothing may leave. */
export type Host = { dir: string; secret: string; marker: string }

export type Variant = {
  name: string
  /** Writes the project into `dir` (an empty folder beside the host folder). */
  setup(dir: string, host: Host): void
  /** Extra `run` arguments (-e, -P). */
  run?: (host: Host) => string[]
  /** What the refusal must name: "MLproject" (then line and column are required), or a file or folder name. */
  where: string
  /** What validate's refusal names when it differs (a script is only named by `run -e`). */
  validateWhere?: string
  /** The project URI relative to `dir` (for `#subdir`). */
  uri?: (dir: string) => string
}

const write = (dir: string, relative: string, content: string | Uint8Array) => {
  mkdirSync(dirname(join(dir, relative)), { recursive: true })
  writeFileSync(join(dir, relative), content)
}
const fifo = (path: string) => {
  mkdirSync(dirname(path), { recursive: true })
  const made = Bun.spawnSync(["mkfifo", path])
  if (made.exitCode !== 0) throw new Error(`mkfifo ${path} failed`)
}
const sparse = (path: string, bytes: number, head = "") => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, head)
  truncateSync(path, bytes)
}
const link = (dir: string, relative: string, target: string) => {
  mkdirSync(dirname(join(dir, relative)), { recursive: true })
  symlinkSync(target, join(dir, relative))
}

const main = (command: string, parameters = "      a: {type: string, default: x}\n") => `name: hostile\nentry_points:\n  main:\n    parameters:\n${parameters}    command: "${command}"\n`
const withEnv = (envLine: string) => `name: hostile\n${envLine}\nentry_points:\n  main:\n    command: "echo hi"\n`
const pythonEnv = (deps: string) => ({ MLproject: withEnv("python_env: python_env.yaml"), env: `python: "3.11"\ndependencies:\n${deps}` })
const mlproject = (content: string | Uint8Array): Variant["setup"] => (dir) => write(dir, "MLproject", content)

const garbage = (n: number) => new Uint8Array(n).map((_, i) => (i * 7919 + 13) % 256)

/** Command templates whose field would undo or cut the shell quoting: run gets -P a=$(touch MARKER). */
const templates: Array<[string, string]> = [
  ["conversion !r", "echo {a!r}"],
  ["conversion !s", "echo {a!s}"],
  ["conversion !a", "echo {a!a}"],
  ["conversion and width", "echo {a!r:>40}"],
  ["a 10^12 width", "echo {a:>999999999999}"],
  ["a precision that cuts the closing quote", "echo {a:.3}"],
  ["an empty format spec", "echo {a:}"],
  ["a fill and alignment", "echo {a:*^30}"],
  ["index access", "echo {a[1]}"],
  ["attribute access", "echo {a.upper}"],
  ["a nested spec", "echo {a:{a}}"],
  ["a positional field", "echo {0}"],
]

/** MLproject texts with a wrong type where MLflow crashes or refuses: each an error at a line and column. */
const wrongTypes: Array<[string, string]> = [
  ["top level is a list", "- main\n- other\n"],
  ["top level is a string", "just some text\n"],
  ["top level is an int", "42\n"],
  ["entry_points is a list", "entry_points:\n  - main:\n      command: x\n"],
  ["entry_points is a string", "entry_points: main\n"],
  ["entry_points is an int", "entry_points: 7\n"],
  ["entry_points is null", "entry_points:\n"],
  ["an entry point is a string", "entry_points:\n  main: python train.py\n"],
  ["an entry point is a list", "entry_points:\n  main: [python, train.py]\n"],
  ["an entry point is an int", "entry_points:\n  main: 3\n"],
  ["command is a list", "entry_points:\n  main:\n    command: [echo, hi]\n"],
  ["command is an int", "entry_points:\n  main:\n    command: 12\n"],
  ["command is a mapping", "entry_points:\n  main:\n    command: {run: x}\n"],
  ["command is missing", "entry_points:\n  main:\n    parameters: {a: string}\n"],
  ["parameters is a list", "entry_points:\n  main:\n    parameters: [a, b]\n    command: echo\n"],
  ["parameters is a string", "entry_points:\n  main:\n    parameters: alpha\n    command: echo\n"],
  ["parameters is null", "entry_points:\n  main:\n    parameters:\n    command: echo\n"],
  ["a parameter spec is a list", "entry_points:\n  main:\n    parameters:\n      a: [float, 1]\n    command: echo {a}\n"],
  ["a parameter spec is an int", "entry_points:\n  main:\n    parameters:\n      a: 5\n    command: echo {a}\n"],
  ["a parameter name is a list key", "entry_points:\n  main:\n    parameters:\n      ? [a, b]\n      : string\n    command: echo\n"],
  ["docker_env is a string", "name: p\ndocker_env: ubuntu\nentry_points:\n  main: {command: echo}\n"],
  ["docker_env is a list", "name: p\ndocker_env: [ubuntu]\nentry_points:\n  main: {command: echo}\n"],
  ["docker_env has no image", "name: p\ndocker_env: {volumes: []}\nentry_points:\n  main: {command: echo}\n"],
  ["docker volumes is a string", "name: p\ndocker_env: {image: x, volumes: /a:/b}\nentry_points:\n  main: {command: echo}\n"],
  ["docker environment is a mapping", "name: p\ndocker_env: {image: x, environment: {A: b}}\nentry_points:\n  main: {command: echo}\n"],
  ["python_env is an int", "python_env: 3\nentry_points:\n  main: {command: echo}\n"],
  ["python_env is a list", "python_env: [a.yaml]\nentry_points:\n  main: {command: echo}\n"],
  ["conda_env is a mapping", "conda_env: {file: c.yaml}\nentry_points:\n  main: {command: echo}\n"],
  ["two environment fields", "python_env: p.yaml\nconda_env: c.yaml\nentry_points:\n  main: {command: echo}\n"],
  ["databricks_spark_job is a string", "databricks_spark_job: job.py\nentry_points:\n  main: {command: echo}\n"],
  ["an unknown YAML tag", "name: !!python/object:os.system x\n"],
  ["a duplicate anchor", "a: &x 1\nb: &x 2\n"],
]

export const variants = (): Variant[] => [
  ...templates.map(([label, command]): Variant => ({
    name: `template: ${label}`,
    setup: mlproject(main(command)),
    run: (host) => ["-P", `a=$(touch ${host.marker}); '$(touch ${host.marker})'`],
    where: "MLproject",
  })),
  ...wrongTypes.map(([label, text]): Variant => ({ name: `wrong type: ${label}`, setup: mlproject(text), where: "MLproject" })),
  // Symlinks out of the project.
  { name: "symlink: MLproject to the host's secret", setup: (dir, host) => link(dir, "MLproject", join(host.dir, "secret.yaml")), where: "MLproject" },
  { name: "symlink: MLproject through a relative ../ link", setup: (dir) => link(dir, "MLproject", "../host/secret.yaml"), where: "MLproject" },
  { name: "symlink: MLproject to /dev/zero", setup: (dir) => link(dir, "MLproject", "/dev/zero"), where: "MLproject" },
  { name: "symlink: MLproject to /dev/urandom", setup: (dir) => link(dir, "MLproject", "/dev/urandom"), where: "MLproject" },
  // A folder named MLproject is skipped (a Python package, usually): the folder then has nothing to run.
  { name: "symlink: MLproject to a folder of the host", setup: (dir, host) => link(dir, "MLproject", join(host.dir, "hostproj")), where: "no MLproject in" },
  {
    name: "symlink: python_env.yaml to the host's secret",
    setup: (dir, host) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), link(dir, "python_env.yaml", join(host.dir, "secret.yaml"))),
    where: "python_env.yaml",
  },
  {
    name: "symlink: the implicit python_env.yaml to the host's secret",
    setup: (dir, host) => (write(dir, "train.py", ""), link(dir, "python_env.yaml", join(host.dir, "secret.yaml"))),
    run: () => ["-e", "train.py"],
    where: "python_env.yaml",
  },
  {
    name: "symlink: python_env names a file outside by ../",
    setup: (dir) => write(dir, "MLproject", withEnv("python_env: ../host/secret.yaml")),
    where: "secret.yaml",
  },
  {
    name: "symlink: conda.yaml to the host's secret",
    setup: (dir, host) => (write(dir, "MLproject", withEnv("conda_env: conda.yaml")), link(dir, "conda.yaml", join(host.dir, "secret.yaml"))),
    where: "conda.yaml",
  },
  {
    name: "symlink: requirements.txt to the host's secret",
    setup: (dir, host) => {
      const p = pythonEnv("  - -r requirements.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      link(dir, "requirements.txt", join(host.dir, "secret.txt"))
    },
    where: "requirements.txt",
  },
  {
    name: "requirements: -r an absolute host path",
    setup: (dir, host) => {
      const p = pythonEnv(`  - -r ${join(host.dir, "secret.txt")}\n`)
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
    },
    where: "secret.txt",
  },
  {
    name: "requirements: a nested -r climbs out with ../",
    setup: (dir) => {
      const p = pythonEnv("  - -r reqs/base.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      write(dir, "reqs/base.txt", "numpy\n-r ../../host/secret.txt\n")
    },
    where: "secret.txt",
  },
  {
    name: "requirements: a nested -r through a folder symlinked out",
    setup: (dir, host) => {
      const p = pythonEnv("  - -r reqs/base.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      link(dir, "reqs", host.dir)
    },
    where: "reqs/base.txt",
  },
  { name: "script: -e ../ a host script", setup: (dir) => write(dir, "MLproject", "name: s\n"), run: () => ["-e", "../host/script.sh"], where: "script.sh", validateWhere: "MLproject" },
  { name: "script: -e an absolute host script", setup: (dir) => write(dir, "MLproject", "name: s\n"), run: (host) => ["-e", join(host.dir, "script.sh")], where: "script.sh", validateWhere: "MLproject" },
  {
    name: "script: a symlinked script to the host",
    setup: (dir, host) => link(dir, "train.sh", join(host.dir, "script.sh")),
    run: () => ["-e", "train.sh"],
    where: "train.sh",
    validateWhere: "no MLproject in",
  },
  {
    name: "subdir: #sub is a symlink to a host project",
    setup: (dir, host) => link(dir, "sub", join(host.dir, "hostproj")),
    uri: (dir) => `${dir}#sub`,
    where: "sub",
  },
  {
    name: "subdir: #sub/inner passes through a symlink out",
    setup: (dir, host) => link(dir, "sub", host.dir),
    uri: (dir) => `${dir}#sub/hostproj`,
    where: "sub/hostproj",
  },
  // Special files inside the project.
  { name: "special: MLproject is a FIFO", setup: (dir) => fifo(join(dir, "MLproject")), where: "MLproject" },
  { name: "special: python_env.yaml is a FIFO", setup: (dir) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), fifo(join(dir, "python_env.yaml"))), where: "python_env.yaml" },
  { name: "special: conda.yaml is a FIFO", setup: (dir) => (write(dir, "MLproject", withEnv("conda_env: conda.yaml")), fifo(join(dir, "conda.yaml"))), where: "conda.yaml" },
  {
    name: "special: requirements.txt is a FIFO",
    setup: (dir) => {
      const p = pythonEnv("  - -r requirements.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      fifo(join(dir, "requirements.txt"))
    },
    where: "requirements.txt",
  },
  { name: "special: the script is a FIFO", setup: (dir) => (write(dir, "MLproject", "name: s\n"), fifo(join(dir, "train.sh"))), run: () => ["-e", "train.sh"], where: "train.sh", validateWhere: "MLproject" },
  // Huge files: sparse, so they cost no disk, but reading them would cost gigabytes.
  { name: "huge: a 3 GB MLproject", setup: (dir) => sparse(join(dir, "MLproject"), 3 * 2 ** 30, "name: x\n"), where: "MLproject" },
  { name: "huge: a 1.9 GB MLproject", setup: (dir) => sparse(join(dir, "MLproject"), 1_900_000_000, "name: x\n"), where: "MLproject" },
  { name: "huge: a 200 KB MLproject", setup: mlproject(`name: x\n${"# padding\n".repeat(20_000)}`), where: "MLproject" },
  { name: "huge: a 1.9 GB python_env.yaml", setup: (dir) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), sparse(join(dir, "python_env.yaml"), 1_900_000_000, "python: '3.11'\n")), where: "python_env.yaml" },
  { name: "huge: a 1.9 GB conda.yaml", setup: (dir) => (write(dir, "MLproject", withEnv("conda_env: conda.yaml")), sparse(join(dir, "conda.yaml"), 1_900_000_000, "name: x\n")), where: "conda.yaml" },
  {
    name: "huge: a 1.9 GB requirements file",
    setup: (dir) => {
      const p = pythonEnv("  - -r requirements.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      sparse(join(dir, "requirements.txt"), 1_900_000_000, "numpy\n")
    },
    where: "requirements.txt",
  },
  // Deep nesting.
  { name: "deep: 10,000 nested lists", setup: mlproject(`entry_points: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`), where: "MLproject" },
  { name: "deep: 10,000 nested flow mappings", setup: mlproject(`entry_points: ${"{a: ".repeat(10_000)}x${"}".repeat(10_000)}\n`), where: "MLproject" },
  { name: "deep: 2,000 nested block lists", setup: mlproject(Array.from({ length: 2_000 }, (_, i) => `${"  ".repeat(i)}- `).join("\n") + "x\n"), where: "MLproject" },
  {
    name: "deep: an alias bomb",
    setup: mlproject(`a: &a [x,x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 8 }, (_, i) => `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(10).fill(`*${"abcdefgh"[i]}`).join(",")}]`).join("\n")}\n`),
    where: "MLproject",
  },
  { name: "deep: a nested python_env.yaml", setup: (dir) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), write(dir, "python_env.yaml", `dependencies: ${"[".repeat(5_000)}${"]".repeat(5_000)}\n`)), where: "python_env.yaml" },
  {
    name: "deep: requirements files nested 40 deep",
    setup: (dir) => {
      const p = pythonEnv("  - -r r0.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      for (let i = 0; i < 40; i++) write(dir, `r${i}.txt`, `-r r${i + 1}.txt\n`)
      write(dir, "r40.txt", "numpy\n")
    },
    where: "r31.txt",
  },
  // Binary garbage.
  { name: "binary: random bytes as MLproject", setup: mlproject(garbage(64 * 1024)), where: "MLproject" },
  { name: "binary: an ELF header as MLproject", setup: mlproject(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00])), where: "MLproject" },
  { name: "binary: invalid UTF-8 in MLproject", setup: mlproject(new Uint8Array([0x6e, 0x3a, 0x20, 0xff, 0xfe, 0x80, 0x0a])), where: "MLproject" },
  { name: "binary: a NUL in a key", setup: mlproject("name: x\nentry\u0000points: {}\n"), where: "MLproject" },
  { name: "binary: python_env.yaml is random bytes", setup: (dir) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), write(dir, "python_env.yaml", garbage(4096))), where: "python_env.yaml" },
  {
    name: "binary: requirements.txt is random bytes",
    setup: (dir) => {
      const p = pythonEnv("  - -r requirements.txt\n")
      write(dir, "MLproject", p.MLproject)
      write(dir, "python_env.yaml", p.env)
      write(dir, "requirements.txt", garbage(4096))
    },
    where: "requirements.txt",
  },
  // Requirements pip would refuse, and an interpreter that does not exist.
  { name: "requirement: mlflow == 2..7.1", setup: (dir) => { const p = pythonEnv("  - mlflow == 2..7.1\n"); write(dir, "MLproject", p.MLproject); write(dir, "python_env.yaml", p.env) }, where: "python_env.yaml" },
  { name: "requirement: an unclosed extras list", setup: (dir) => { const p = pythonEnv("  - 'pandas[excel'\n"); write(dir, "MLproject", p.MLproject); write(dir, "python_env.yaml", p.env) }, where: "python_env.yaml" },
  {
    name: "interpreter: Python 3.99 is nowhere",
    setup: (dir) => (write(dir, "MLproject", withEnv("python_env: python_env.yaml")), write(dir, "python_env.yaml", 'python: "3.99"\n')),
    where: "python_env.yaml",
  },
]
