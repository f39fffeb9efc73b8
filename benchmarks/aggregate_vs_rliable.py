"""Our IQM and stratified-bootstrap intervals against the `rliable` package, same data.

rliable is not a dependency (its import fails with pandas 3, which a fresh environment
gets); this script runs in its own virtual environment:

    python benchmarks/aggregate_vs_rliable.py --setup   # creates benchmarks/.venv-rliable
    benchmarks/.venv-rliable/bin/python benchmarks/aggregate_vs_rliable.py

It loads `jaxreward/analysis/aggregate.py` by path (NumPy only), draws score matrices of
several shapes ([runs, tasks]), and compares point estimates and 95% interval endpoints
(50,000 bootstrap resamples each side). Two bootstraps with different random streams
agree up to Monte-Carlo error, so endpoints are compared relative to the interval width.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv-rliable")


def setup() -> None:
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "rliable==1.2.0", "pandas<3"], check=True)
    print(f"ready: {VENV}/bin/python {os.path.relpath(__file__, ROOT)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setup", action="store_true")
    p.add_argument("--reps", type=int, default=50_000)
    p.add_argument("--out", default=os.path.join(HERE, "results", "aggregate_vs_rliable"))
    args = p.parse_args()
    if args.setup:
        return setup()
    import numpy as np
    from rliable import library as rly
    from rliable import metrics as rlm

    spec = importlib.util.spec_from_file_location("aggregate", os.path.join(ROOT, "jaxreward", "analysis", "aggregate.py"))
    ours = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ours)

    rng = np.random.default_rng(0)
    datasets = {
        "fixed 8x2": np.array([[0.1, 5.0], [0.4, 3.0], [0.35, 9.0], [0.8, 1.0], [0.55, 2.0], [0.2, 7.0], [0.9, 4.0], [0.65, 6.0]]),
        "normal 5x1": rng.normal(size=(5, 1)),
        "normal 10x4": rng.normal(size=(10, 4)),
        "lognormal 20x3": rng.lognormal(size=(20, 3)),
        "bimodal 32x6": np.where(rng.random((32, 6)) < 0.3, 0.0, rng.normal(1.0, 0.2, (32, 6))),
    }
    rows = []
    for name, x in datasets.items():
        t0 = time.perf_counter()
        point, ci = rly.get_interval_estimates({"x": x}, lambda s: np.array([rlm.aggregate_iqm(s)]), reps=args.reps)
        t_rl = time.perf_counter() - t0
        t0 = time.perf_counter()
        low, high = ours.stratified_bootstrap_ci(x, reps=args.reps, seed=1)
        t_ours = time.perf_counter() - t0
        width = float(ci["x"][1, 0] - ci["x"][0, 0])
        rows.append({
            "data": name, "iqm_ours": ours.iqm(x), "iqm_rliable": float(point["x"][0]),
            "low_ours": low, "low_rliable": float(ci["x"][0, 0]), "high_ours": high, "high_rliable": float(ci["x"][1, 0]),
            "max_endpoint_diff_over_width": max(abs(low - ci["x"][0, 0]), abs(high - ci["x"][1, 0])) / width,
            "seconds_ours": t_ours, "seconds_rliable": t_rl,
        })
        print(rows[-1], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({"reps": args.reps, "rows": rows}, f, indent=2)
    lines = ["# IQM and stratified bootstrap intervals: jaxreward vs rliable 1.2.0", "",
             f"Command: `benchmarks/.venv-rliable/bin/python benchmarks/aggregate_vs_rliable.py` ({args.reps:,} resamples each side).", "",
             "| data [runs x tasks] | IQM ours | IQM rliable | 95% CI ours | 95% CI rliable | max endpoint diff / CI width | time ours (s) | time rliable (s) |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['iqm_ours']:.4f} | {r['iqm_rliable']:.4f} | [{r['low_ours']:.4f}, {r['high_ours']:.4f}] | "
                     f"[{r['low_rliable']:.4f}, {r['high_rliable']:.4f}] | {r['max_endpoint_diff_over_width']:.3f} | "
                     f"{r['seconds_ours']:.2f} | {r['seconds_rliable']:.2f} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}.md")


if __name__ == "__main__":
    main()
