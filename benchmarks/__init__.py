"""Benchmarks of tsinfluence: faithfulness, accuracy and cost, side by side with peers.

Each benchmark is a module ``benchmarks/<name>.py`` with ``main(quick: bool = False) -> str``
that returns a markdown section and writes it to ``benchmarks/results/<name>.md``. Run one with
``python -m benchmarks.<name> [--quick]``, or all of them (and assemble
``benchmarks/RESULTS.md``) with ``python -m benchmarks.run [--quick]``.
"""
