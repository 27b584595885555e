"""Run every benchmark module and assemble ``benchmarks/RESULTS.md``.

Usage::

    python -m benchmarks.run                 # full run of every benchmark (long)
    python -m benchmarks.run --quick         # small settings, a few minutes per benchmark
    python -m benchmarks.run --only cost,accuracy --quick
    python -m benchmarks.run --assemble      # only rebuild RESULTS.md from results/*.md

A benchmark is any module ``benchmarks/<name>.py`` (not starting with ``_``, not ``run``) with a
``main(quick: bool = False) -> str`` that writes ``benchmarks/results/<name>.md``. A module
that fails to import or to run is skipped with a note; the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from ._common import RESULTS_DIR, machine_info, markdown_table, set_threads, versions

__all__ = ["ORDER", "assemble", "discover", "main"]

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
#: Sections first in RESULTS.md, in this order; any other benchmark follows alphabetically.
ORDER = ("faithfulness", "accuracy", "accuracy_analysis", "cost", "blackbox", "schemes")
RUN_LOG = RESULTS_DIR / "_runs.json"

PEERS_NOT_RUN = [
    "**TimeSHAP** (timeshap 1.0.4): needs `shap==0.42.1` and `numpy<2`; this environment has "
    "numpy 2.x (required by the rest of the stack), so it is not installed or run.",
    "**TSInterpret** 0.4.7: pins `scikit-learn==1.3.0`, `numpy<2`, TensorFlow, and its import "
    "fails with current sktime (`_PanelToTabularTransformer` removed); not run.",
    "**tsai** 1.0.1: pins `scikit-learn<1.8`, and its import fails with the CPU torch build "
    "(torchvision's PyPI wheel needs CUDA torch); not run.",
]


def discover() -> list[str]:
    """Names of the benchmark modules in ``benchmarks/``, in report order."""
    names = sorted(
        p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run"
    )
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def _load_log() -> dict:
    try:
        return json.loads(RUN_LOG.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_log(log: dict) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RUN_LOG.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_benchmarks(names: list[str], quick: bool) -> dict[str, str]:
    """Run ``main(quick)`` of each module; returns ``name -> status`` (``"ok"`` or why not)."""
    status = {}
    log = _load_log()
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except Exception as exc:  # skip, do not crash the whole run
            status[name] = f"skipped: import failed ({type(exc).__name__}: {exc})".splitlines()[0]
            print(f"[benchmarks] {name}: {status[name]}", file=sys.stderr)
            continue
        if not callable(getattr(module, "main", None)):
            status[name] = "skipped: no main(quick) function"
            continue
        set_threads()  # a previous benchmark's library may have changed it (aeon does)
        print(f"[benchmarks] running {name} ({'quick' if quick else 'full'}) ...", file=sys.stderr)
        start = time.perf_counter()
        try:
            module.main(quick=quick)
        except Exception as exc:
            status[name] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
            traceback.print_exc()
            continue
        seconds = time.perf_counter() - start
        status[name] = "ok"
        log[name] = {
            "mode": "quick" if quick else "full",
            "finished": _now(),
            "seconds": round(seconds, 1),
            "command": f"python -m benchmarks.run {'--quick ' if quick else ''}--only {name}",
            "threads": _threads(),
        }
        _save_log(log)
        print(f"[benchmarks] {name} done in {seconds:.0f} s", file=sys.stderr)
    return status


def record_standalone(name: str, quick: bool, seconds: float) -> None:
    """Record in the run log that ``python -m benchmarks.<name>`` produced its results file."""
    log = _load_log()
    log[name] = {
        "mode": "quick" if quick else "full",
        "finished": _now(),
        "seconds": round(seconds, 1),
        "command": f"python -m benchmarks.{name}{' --quick' if quick else ''}",
        "threads": _threads(),
    }
    _save_log(log)


def assemble(command: str, status: dict[str, str] | None = None) -> str:
    """Build ``RESULTS.md`` from ``results/*.md`` with a machine / version header."""
    status = status or {}
    log = _load_log()
    machine = machine_info()
    vers = versions()
    present = [n for n in discover() if (RESULTS_DIR / f"{n}.md").exists()]
    extra = sorted(
        p.stem
        for p in RESULTS_DIR.glob("*.md")
        if p.stem not in present and not p.stem.startswith("_")
    )
    sections = present + extra
    run_rows = []
    for name in sections:
        entry = log.get(name, {})
        run_rows.append(
            [
                name,
                entry.get("mode", "unknown"),
                entry.get("finished", "unknown"),
                f"{entry['seconds']:.0f}" if entry.get("seconds") is not None else "n/a",
                str(entry.get("threads", "n/a")),
                f"`{entry['command']}`" if "command" in entry else "n/a",
            ]
        )
    lines = [
        "# tsinfluence benchmark results",
        "",
        f"Assembled {_now()} by `{command}`.",
        "Each section below is the file `benchmarks/results/<name>.md` written by its own run "
        "(see the table of runs); timings are from a shared, noisy machine — compare ratios "
        "measured side by side within one section, not absolute seconds across sections.",
        "",
        "## Machine and versions",
        "",
        markdown_table(["item", "value"], [[k, v] for k, v in {**machine, **vers}.items()]),
        "",
        "## Runs",
        "",
        markdown_table(
            ["benchmark", "mode", "finished", "seconds", "torch threads", "command"], run_rows
        ),
    ]
    problems = {k: v for k, v in status.items() if v != "ok"}
    if problems:
        lines += ["", "Benchmarks not run in this invocation:", ""]
        lines += [f"- `{k}`: {v}" for k, v in problems.items()]
    lines += ["", "## Peers that could not run", "", *[f"- {p}" for p in PEERS_NOT_RUN], ""]
    for name in sections:
        lines += [(RESULTS_DIR / f"{name}.md").read_text(encoding="utf-8").rstrip(), ""]
    text = "\n".join(lines).rstrip() + "\n"
    RESULTS_MD.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Run tsinfluence benchmarks.")
    parser.add_argument("--quick", action="store_true", help="small settings")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument(
        "--assemble", action="store_true", help="only rebuild RESULTS.md from results/*.md"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    status: dict[str, str] = {}
    set_threads()  # the header reports the thread count the benchmarks use
    if not args.assemble:
        available = discover()
        names = available
        if args.only:
            names = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = [n for n in names if n not in available]
            if unknown:
                parser.error(f"unknown benchmark(s) {unknown}; available: {available}")
        print(f"[benchmarks] torch threads: {_threads()}", file=sys.stderr)
        status = run_benchmarks(names, args.quick)
    assemble(command.strip(), status)
    print(f"[benchmarks] wrote {RESULTS_MD}", file=sys.stderr)
    return 0 if all(v == "ok" or v.startswith("skipped") for v in status.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
