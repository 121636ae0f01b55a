"""Step 1: makes the raw data set (x, y with noise and a few outliers) and logs it as the artifact raw.csv.

The content depends on --rows only (a seeded generator), so the same rows always give the same file: the next
step's run key, which reads the file's content, stays the same.
"""
import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile

ARTIFACT = "raw.csv"


def mlproject(*args):
    subprocess.run([os.environ.get("MLPROJECT_BIN", "mlproject"), *args], check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    if args.rows < 2:
        sys.exit(f"load: --rows must be at least 2, not {args.rows}")

    rng = random.Random(13)
    outliers = 0
    # Outside the project folder: a file written into it would change the project's content, so every run key.
    with tempfile.TemporaryDirectory(prefix="multistep-load-") as out:
        path = os.path.join(out, ARTIFACT)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x", "y"])
            for i in range(args.rows):
                x = i / 10
                y = 3 * x + 2 + (rng.random() - 0.5)
                if i % 17 == 16:
                    y *= 50  # a broken sensor: etl drops these
                    outliers += 1
                writer.writerow([f"{x:.4f}", f"{y:.4f}"])
        mlproject("log", "artifact", path)
    mlproject("log", "metric", "outliers", str(outliers))
    print(f"load: wrote {args.rows} rows ({outliers} outliers) to the artifact {ARTIFACT}")


if __name__ == "__main__":
    main()
