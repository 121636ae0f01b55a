// Expected outcome of loading each folder of ../shared/corpus/mlproject, reasoned from MLflow's behaviour
// and the INDEX.tsv quirks (not recorded from our output). Env files stored under _outside_project_dir are put
// back at their repository paths by the test, so rows 028–034, 141–144 and 197 load like their repositories.
//
// - "ok": MLflow loads it and nothing in it deserves a warning (int/bool/float/string/path/uri types, `description`).
// - { warnings }: MLflow loads it; the codes of the located warnings we expect.
// - { rejected }: MLflow fails on it as a whole too; the code of the first file-level error.
// - { broken }: the file loads, these entry points cannot run (MLflow fails when they run, or crashes on them).
// - python_env_invalid: python_env.yaml is wrong, which only matters when mlproject builds the virtualenv.
// - nothing_to_run: no MLproject (or one without entry points) and no .py/.sh/.R script: `mlflow run` fails whatever
//   the entry point; `validate` says so (the misnamed-file warning is still there).

export type Outcome = "ok" | { warnings: string[] } | { rejected: string } | { broken?: string[]; python_env_invalid?: true; nothing_to_run?: true }

export const expected: Record<string, Outcome> = {
  // conda_env: conda.yaml, but the repository has no conda.yaml: MLflow raises 'Project specified conda environment file …, but no such file was found.'
  "001": { rejected: "env_file.missing" },
  // unknown parameter keys default:1, default:10, default:128, type:int
  "002": { warnings: ["parameter.unknown_key"] },
  "003": "ok",
  // type names str
  "004": { warnings: ["parameter.type"] },
  "005": "ok", "006": "ok", "007": "ok", "008": "ok", "009": "ok", "010": "ok", "011": "ok", "012": "ok",
  // type names list[float], list[int], list[str], str; an int parameter whose default (None or 1.0) is passed as written
  "013": { warnings: ["parameter.default", "parameter.type"] },
  "014": "ok", "015": "ok",
  // main's command uses {data_path}, which it does not declare: str.format raises KeyError when main runs; reupload is fine
  "016": { broken: ["main"] },
  // type names str
  "017": { warnings: ["parameter.type"] },
  // type names str
  "018": { warnings: ["parameter.type"] },
  "019": "ok", "020": "ok", "021": "ok", "022": "ok", "023": "ok", "024": "ok", "025": "ok", "026": "ok",
  "027": "ok",
  // type names str
  "028": { warnings: ["parameter.type"] },
  // type names str; unknown top-level keys env_manager
  "029": { warnings: ["parameter.type", "project.unknown_key"] },
  // type names str; unknown top-level keys env_manager
  "030": { warnings: ["parameter.type", "project.unknown_key"] },
  // type names str; unknown top-level keys env_manager
  "031": { warnings: ["parameter.type", "project.unknown_key"] },
  // type names str; unknown top-level keys env_manager
  "032": { warnings: ["parameter.type", "project.unknown_key"] },
  // type names str; unknown top-level keys env_manager
  "033": { warnings: ["parameter.type", "project.unknown_key"] },
  // type names str
  "034": { warnings: ["parameter.type"] },
  "035": "ok", "036": "ok",
  // type names str
  "037": { warnings: ["parameter.type"] },
  "038": "ok", "039": "ok", "040": "ok",
  // not YAML: a continuation line sits outside its comment block; PyYAML's safe_load raises ParserError
  "041": { rejected: "yaml.syntax" },
  // type names str
  "042": { warnings: ["parameter.type"] },
  "043": "ok", "044": "ok", "045": "ok", "046": "ok", "047": "ok",
  // the file is misnamed, so MLflow never reads it: folder conventions, no entry points and no script (a project.misnamed warning)
  "048": { nothing_to_run: true },
  "049": "ok", "050": "ok", "051": "ok", "052": "ok", "053": "ok", "054": "ok",
  // duplicate command keys (the last wins, as in PyYAML)
  "055": { warnings: ["yaml.duplicate_key"] },
  "056": "ok",
  // type names str
  "057": { warnings: ["parameter.type"] },
  "058": "ok",
  // a mis-indented 'command:' became an entry point whose value is a string, leaving predict without a command. MLflow's loader crashes on the string entry point (AttributeError) for every entry point; we confine both problems so main, validate, … still run (deliberate)
  "059": { broken: ["predict", "command"] },
  // conda_env: conda.yaml is missing from the repository (MLflow raises the same); its command also has a stray '}' (ValueError in str.format)
  "060": { rejected: "env_file.missing" },
  // type names boolean, str; an int parameter whose default (None or 1.0) is passed as written
  "061": { warnings: ["parameter.default", "parameter.type"] },
  "062": "ok",
  // duplicate command keys (the last wins, as in PyYAML)
  "063": { warnings: ["yaml.duplicate_key"] },
  "064": "ok", "065": "ok", "066": "ok", "067": "ok", "068": "ok", "069": "ok", "070": "ok", "071": "ok",
  "072": "ok", "073": "ok", "074": "ok",
  // type names str
  "075": { warnings: ["parameter.type"] },
  // type names str
  "076": { warnings: ["parameter.type"] },
  "077": "ok",
  // type names str
  "078": { warnings: ["parameter.type"] },
  "079": "ok", "080": "ok",
  // type names str (a warning); python_env.yaml pins `mlflow == 2..7.1`, which pip refuses (PEP 440): the
  // virtualenv build would fail after the run exists, so it is a python_env error found at load time
  "081": { python_env_invalid: true },
  "082": "ok",
  // unknown top-level keys signature; conda_env: ~ (ignored by MLflow)
  "083": { warnings: ["env.empty", "project.unknown_key"] },
  "084": "ok", "085": "ok", "086": "ok", "087": "ok", "088": "ok", "089": "ok", "090": "ok", "091": "ok",
  "092": "ok", "093": "ok", "094": "ok", "095": "ok", "096": "ok", "097": "ok",
  // type names str
  "098": { warnings: ["parameter.type"] },
  // type names str
  "099": { warnings: ["parameter.type"] },
  // type names str
  "100": { warnings: ["parameter.type"] },
  // type names str
  "101": { warnings: ["parameter.type"] },
  // type names str
  "102": { warnings: ["parameter.type"] },
  // type names str
  "103": { warnings: ["parameter.type"] },
  // entry_points is a list ('- main:'): MLflow calls .items() on it and crashes (AttributeError)
  "104": { rejected: "entry_points.invalid" },
  "105": "ok", "106": "ok", "107": "ok", "108": "ok", "109": "ok", "110": "ok", "111": "ok", "112": "ok",
  "113": "ok", "114": "ok", "115": "ok", "116": "ok", "117": "ok", "118": "ok",
  // type names str; unknown parameter keys type str
  "119": { warnings: ["parameter.type", "parameter.unknown_key"] },
  "120": "ok",
  // unknown parameter keys type bool, type int, type str
  "121": { warnings: ["parameter.unknown_key"] },
  // unknown parameter keys type str
  "122": { warnings: ["parameter.unknown_key"] },
  "123": "ok", "124": "ok",
  // type names str
  "125": { warnings: ["parameter.type"] },
  "126": "ok", "127": "ok", "128": "ok", "129": "ok",
  // type names str
  "130": { warnings: ["parameter.type"] },
  "131": "ok", "132": "ok", "133": "ok", "134": "ok", "135": "ok",
  // type names str
  "136": { warnings: ["parameter.type"] },
  // type names str
  "137": { warnings: ["parameter.type"] },
  "138": "ok",
  // type names str
  "139": { warnings: ["parameter.type"] },
  "140": "ok", "141": "ok", "142": "ok", "143": "ok", "144": "ok", "145": "ok", "146": "ok", "147": "ok",
  "148": "ok", "149": "ok", "150": "ok",
  // type names str; unknown parameter keys int
  "151": { warnings: ["parameter.type", "parameter.unknown_key"] },
  // type names str
  "152": { warnings: ["parameter.type"] },
  // type names str
  "153": { warnings: ["parameter.type"] },
  "154": "ok",
  // python_env: conda.yaml points at a conda file; MLflow loads it and only fails building the virtualenv (_PythonEnv gets unexpected keys name/channels), so --env-manager local runs
  "155": { python_env_invalid: true },
  "156": "ok", "157": "ok", "158": "ok",
  // main's command uses {balanced}, which is not declared: KeyError when main runs
  "159": { broken: ["main"] },
  "160": "ok", "161": "ok",
  // type names boolean
  "162": { warnings: ["parameter.type"] },
  "163": "ok", "164": "ok",
  // type names boolean
  "165": { warnings: ["parameter.type"] },
  // type names boolean
  "166": { warnings: ["parameter.type"] },
  "167": "ok",
  // type names boolean
  "168": { warnings: ["parameter.type"] },
  // type names boolean
  "169": { warnings: ["parameter.type"] },
  "170": "ok",
  // type names str; an int parameter whose default (None or 1.0) is passed as written
  "171": { warnings: ["parameter.default", "parameter.type"] },
  // type names str
  "172": { warnings: ["parameter.type"] },
  "173": "ok",
  // type names str
  "174": { warnings: ["parameter.type"] },
  "175": "ok", "176": "ok", "177": "ok", "178": "ok",
  // type names str; unknown top-level keys target,required_covariates,supported_period_type,allow_free_additional_continuous_covariates,meta_data
  "179": { warnings: ["parameter.type", "project.unknown_key"] },
  // main has 'parameters:' with nothing under it (null): MLflow's loader crashes on None.items(); we confine it to main (deliberate)
  "180": { broken: ["main"] },
  "181": "ok", "182": "ok", "183": "ok", "184": "ok",
  // type names str
  "185": { warnings: ["parameter.type"] },
  // type names str
  "186": { warnings: ["parameter.type"] },
  "187": "ok", "188": "ok", "189": "ok", "190": "ok", "191": "ok", "192": "ok", "193": "ok", "194": "ok",
  // conda_env: conda.yaml is missing from the repository: MLflow raises at load time
  "195": { rejected: "env_file.missing" },
  // the file holds the text of a git symlink ('src/mlproject'), a YAML string: MLflow calls .keys() on it and crashes (on a checkout with real symlinks it opens a directory and crashes too)
  "196": { rejected: "project.not_mapping" },
  "197": "ok", "198": "ok",
  // type names str; unknown parameter keys type:int
  "199": { warnings: ["parameter.type", "parameter.unknown_key"] },
  // type names str; unknown parameter keys type str; an int parameter whose default (None or 1.0) is passed as written
  "200": { warnings: ["parameter.default", "parameter.type", "parameter.unknown_key"] },
  // unknown parameter keys type str; an int parameter whose default (None or 1.0) is passed as written
  "201": { warnings: ["parameter.default", "parameter.unknown_key"] },
  // type names str; an int parameter whose default (None or 1.0) is passed as written
  "202": { warnings: ["parameter.default", "parameter.type"] },
  "203": "ok",
  // type names str; an int parameter whose default (None or 1.0) is passed as written
  "204": { warnings: ["parameter.default", "parameter.type"] },
  // not YAML: a bare '<ENV>' line; PyYAML raises ScannerError
  "205": { rejected: "yaml.syntax" },
  // docker_env is a string: MLflow calls .get('image') on it and crashes (AttributeError)
  "206": { rejected: "docker_env.invalid" },
  // unknown parameter keys defulat, type:float, type:int, type:string
  "207": { warnings: ["parameter.unknown_key"] },
  // conda_env: conda.yaml is missing from the repository: MLflow raises at load time
  "208": { rejected: "env_file.missing" },
  "209": "ok",
  // unknown top-level keys rocket
  "210": { warnings: ["project.unknown_key"] },
  "211": "ok", "212": "ok", "213": "ok", "214": "ok",
  // type names str
  "215": { warnings: ["parameter.type"] },
  "216": "ok", "217": "ok", "218": "ok",
  // a cookiecutter template ({% for %}), not YAML: PyYAML raises ScannerError
  "219": { rejected: "yaml.syntax" },
  "220": "ok", "221": "ok", "222": "ok",
  // type names str
  "223": { warnings: ["parameter.type"] },
  "224": "ok",
  // a cookiecutter template ({% for %}), not YAML: PyYAML raises ScannerError
  "225": { rejected: "yaml.syntax" },
  "226": "ok", "227": "ok",
  // type names str
  "228": { warnings: ["parameter.type"] },
  "229": "ok", "230": "ok", "231": "ok", "232": "ok", "233": "ok",
  // the file is misnamed, so MLflow never reads it: folder conventions, no entry points and no script (a project.misnamed warning)
  "234": { nothing_to_run: true },
  "235": "ok", "236": "ok", "237": "ok",
  // MLflow's own example_yarn_project: conda_env: conda.yaml, which is not beside it, so load_project raises
  "238": { rejected: "env_file.missing" },
}
