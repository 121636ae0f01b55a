"""Step 2: reads the raw CSV (--data), drops rows whose y is over --max-value, logs the rest as the artifact clean.csv."""
import argparse
import csv
import os
import subprocess
import tempfile

ARTIFACT = "clean.csv"


def mlproject(*args):
    subprocess.run([os.environ.get("MLPROJECT_BIN", "mlproject"), *args], check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--max-value", type=float, required=True)
    args = parser.parse_args()

    with open(args.data, newline="") as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    kept = [(x, y) for x, y in rows if abs(y) <= args.max_value]

    with tempfile.TemporaryDirectory(prefix="multistep-etl-") as out:
        path = os.path.join(out, ARTIFACT)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x", "y"])
            writer.writerows([f"{x:.4f}", f"{y:.4f}"] for x, y in kept)
        mlproject("log", "artifact", path)
    mlproject("log", "metric", "rows_in", str(len(rows)))
    mlproject("log", "metric", "rows_out", str(len(kept)))
    print(f"etl: kept {len(kept)} of {len(rows)} rows (|y| <= {args.max_value:g}) in the artifact {ARTIFACT}")


if __name__ == "__main__":
    main()
