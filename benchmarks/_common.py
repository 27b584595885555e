"""Helpers shared by the benchmark scripts: timing, machine header, markdown, results files."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RESULTS_DIR",
    "cli",
    "env_list",
    "fmt",
    "fmt_mean_std",
    "machine_info",
    "markdown_table",
    "median_time",
    "peer_available",
    "quiet",
    "set_threads",
    "versions",
    "write_result",
]

#: Where each benchmark writes its markdown section.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Distributions reported in the header (display name -> distribution name).
_DISTRIBUTIONS = {
    "tsinfluence": "tsinfluence",
    "torch": "torch",
    "numpy": "numpy",
    "scikit-learn": "scikit-learn",
    "skorch": "skorch",
    "pandas": "pandas",
    "captum": "captum",
    "aeon": "aeon",
    "numba": "numba",
    "time_interpret (tint)": "time_interpret",
    "pytorch-lightning": "pytorch-lightning",
}


def env_list(variable: str) -> tuple[str, ...] | None:
    """The comma-separated names in environment variable ``variable`` (blanks stripped).

    ``None`` when the variable is unset or names nothing: the benchmark's full list applies.
    """
    names = tuple(part.strip() for part in os.environ.get(variable, "").split(","))
    return tuple(name for name in names if name) or None


#: Environment variable that sets torch's intra-op threads for the benchmarks (default 1).
THREADS_ENV = "TSINFLUENCE_BENCH_THREADS"


def set_threads(n: int | None = None) -> int:
    """Set ``torch.set_num_threads`` for a benchmark run and return the value in force.

    On a shared, oversubscribed machine torch's intra-op thread pool can be 50x slower with 2
    threads than with 1 (measured here: a 1 029-series ``predict`` took 34 s with 2 threads
    and 0.4-0.7 s with 1 at a load average of 10 on 2 cores), so the benchmarks default to 1
    thread. ``n=None`` reads ``TSINFLUENCE_BENCH_THREADS`` (default ``1``).
    """
    import torch

    if n is None:
        n = int(os.environ.get(THREADS_ENV, "1"))
    if n < 1:
        raise ValueError(f"The number of threads must be >= 1, got {n}.")
    torch.set_num_threads(int(n))
    return torch.get_num_threads()


def median_time(
    fn: Callable[[], Any], repeats: int = 3, warmup: int = 1
) -> tuple[float, list[float], Any]:
    """Time ``fn()`` and return the median over ``repeats`` runs.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int, default=3
        Timed calls (at least 1).
    warmup : int, default=1
        Untimed calls before timing (JIT, caches, lazy imports).

    Returns
    -------
    median : float
        Median wall-clock seconds.
    times : list of float
        Every timed run, in order.
    result : object
        What the last call returned.
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1, got {repeats}.")
    result = None
    for _ in range(max(int(warmup), 0)):
        result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def versions() -> dict[str, str]:
    """Installed versions of Python and of the packages the benchmarks use.

    Returns
    -------
    dict
        ``name -> version``; ``"not installed"`` for a missing distribution.
    """
    out = {"python": platform.python_version()}
    for name, dist in _DISTRIBUTIONS.items():
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict[str, str]:
    """CPU model, core count, torch threads and OS of this machine.

    Returns
    -------
    dict
    """
    import torch

    return {
        "cpu": _cpu_model(),
        "cores (os.cpu_count)": str(os.cpu_count()),
        "torch.get_num_threads()": str(torch.get_num_threads()),
        "os": f"{platform.system()} {platform.release()}",
    }


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number for a table (NaN and None become ``n/a``)."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** (-digits)):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


def fmt_mean_std(values: Iterable[float], digits: int = 3) -> str:
    """``mean ± std`` of the finite values (population std); the mean alone for one value."""
    vals = np.asarray([v for v in values if v is not None], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return "n/a"
    if vals.size == 1:
        return fmt(vals[0], digits)
    return f"{vals.mean():.{digits}f} ± {vals.std():.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub markdown table; numbers are formatted with :func:`fmt`.

    Parameters
    ----------
    headers : sequence of str
        Column names.
    rows : sequence of sequences
        One entry per column; strings are kept as they are.
    digits : int, default=3
        Decimals of numeric cells.

    Returns
    -------
    str
    """
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"Row {i} has {len(row)} cells; expected {len(headers)}.")
    cells = [[str(c).replace("|", "\\|") if isinstance(c, str) else fmt(c, digits) for c in row]
             for row in rows]  # fmt: skip
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def write_result(name: str, markdown: str, directory: Path | None = None) -> Path:
    """Write one benchmark's markdown section to ``<directory>/<name>.md``.

    Parameters
    ----------
    name : str
        Benchmark name (the module name).
    markdown : str
        The section.
    directory : Path, optional
        Default: :data:`RESULTS_DIR`.

    Returns
    -------
    Path
        The file written.
    """
    directory = RESULTS_DIR if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.md"
    path.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    return path


def peer_available(module: str) -> tuple[bool, str]:
    """Whether ``module`` imports; ``(True, version)`` or ``(False, reason)``."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # any import failure makes the peer unavailable
        return False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return True, str(getattr(mod, "__version__", "unknown"))


@contextlib.contextmanager
def quiet():
    """Silence warnings and the chatter of pytorch-lightning / numba during a block."""
    loggers = [
        logging.getLogger(n) for n in ("pytorch_lightning", "lightning", "lightning.pytorch")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def cli(main: Callable[..., str], argv: Sequence[str] | None = None) -> int:
    """Command line of a benchmark module: ``python -m benchmarks.<name> [--quick]``.

    Prints the markdown returned by ``main(quick=...)``.
    """
    parser = argparse.ArgumentParser(description=(main.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small settings (a few minutes)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    set_threads()
    start = time.perf_counter()
    print(main(quick=args.quick))
    spec = getattr(sys.modules.get(main.__module__), "__spec__", None)
    name = (spec.name if spec is not None else main.__module__).rsplit(".", 1)[-1]
    from .run import record_standalone  # late import: run imports this module

    record_standalone(name, args.quick, time.perf_counter() - start)
    return 0
