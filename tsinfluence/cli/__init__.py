"""The ``tsinfluence`` command: train, explain, predict and counterfactuals from a shell.

Run ``tsinfluence --help`` (or ``python -m tsinfluence --help``). Data files are CSV or
parquet; the layout is chosen by the options, never guessed:

- **long** (``--time-col`` given): one row per series and time step, an ``--id-col``
  column naming the series, one column per channel and a ``--target`` column constant
  within each series; series may have different lengths.
- **wide** (no ``--time-col``): one row per series, one column per time step (the column
  names are the time labels), a ``--target`` column and an optional ``--id-col``; one
  channel; shorter series leave trailing cells empty.

Without ``--data`` the commands use a built-in dataset: ContextFlow's hidden event
(:func:`tsinfluence.datasets.make_signal_event`), the last fifth held out.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from ._data import CLIError
from ._parser import build_parser

__all__ = ["main"]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    print(f"tsinfluence: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tsinfluence`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an error (reported as one line on stderr), 2 on a
        usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args.func(args)
    except KeyboardInterrupt:
        print("tsinfluence: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if args.traceback:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, CLIError | ValueError | TypeError | OSError | ImportError):
            message = f"{type(exc).__name__}: {message}"
        print(f"tsinfluence: error: {message}", file=sys.stderr)
        return 1
    return 0
