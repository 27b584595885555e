"""Smoke tests of the benchmark suite on tiny settings (the full runs are not part of CI)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# ``benchmarks`` lives beside ``tests`` at the repository root, which plain ``pytest`` (unlike
# ``python -m pytest``) does not put on sys.path.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from benchmarks import _common, cost, faithfulness, run  # noqa: E402
from benchmarks.accuracy import FixedRandomSelection  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The benchmarks run with one torch thread (see ``_common.set_threads``)."""
    before = torch.get_num_threads()
    _common.set_threads(1)
    yield
    torch.set_num_threads(before)


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            rows.append(cells)
    return rows


def test_markdown_helpers():
    table = _common.markdown_table(["a", "b"], [["x|y", 0.5], ["z", 3]])
    assert table.splitlines()[0] == "| a | b |"
    assert "x\\|y" in table and "0.500" in table and "| z | 3 |" in table
    with pytest.raises(ValueError, match="Row 0 has 1 cells"):
        _common.markdown_table(["a", "b"], [["only one"]])
    assert _common.fmt(float("nan")) == "n/a"
    assert _common.fmt_mean_std([1.0, 3.0]) == "2.000 ± 1.000"
    assert _common.fmt_mean_std([2.0]) == "2.000"
    median, times, result = _common.median_time(lambda: 7, repeats=3, warmup=0)
    assert result == 7 and len(times) == 3 and median >= 0
    with pytest.raises(ValueError, match="repeats"):
        _common.median_time(lambda: 0, repeats=0)


def test_fixed_random_selection_is_data_independent_and_respects_padding():
    sel = FixedRandomSelection(0.25, max_len=20, seed=3)
    scores = torch.randn(4, 20)
    mask = sel(scores)
    assert torch.equal(mask.sum(1), torch.full((4,), 5.0))
    assert torch.equal(mask, sel(torch.randn(4, 20)))  # the scores do not matter
    assert (mask == mask[0]).all()  # the same positions for every series
    padding = torch.zeros(4, 20, dtype=torch.bool)
    padding[:, 10:] = True
    padded = sel(scores, padding)
    assert padded[:, 10:].sum() == 0
    assert torch.equal(padded.sum(1), torch.full((4,), 2.0))  # round(0.25 * 10) valid steps
    assert not torch.equal(FixedRandomSelection(0.25, 20, seed=4)(scores), mask)


def test_faithfulness_tiny_run_scores_every_method():
    cfg = dict(
        faithfulness.QUICK,
        datasets=("box_middle",),
        methods=(
            "tsinfluence influence_scores",
            "tsinfluence softmax (before)",
            "tsinfluence select (0/1)",
            "IntegratedGradients",
            "Occlusion",
            "random scores (floor)",
        ),
        n_train=80,
        n_explain=12,
        max_epochs=2,
        ig_steps=4,
    )
    text = faithfulness.run(cfg)
    rows = _table_rows(text, "box_middle")
    methods = [r[1] for r in rows if len(r) == 13]
    assert methods == list(cfg["methods"])
    have_captum = importlib.util.find_spec("captum") is not None
    for r in rows:
        if len(r) != 13:
            continue
        if r[1] in ("IntegratedGradients", "Occlusion") and not have_captum:
            assert r[-1].startswith("not run"), r
            continue
        assert r[-1] == "", r  # no explainer failed
        for value in r[2:8]:  # AUP, AUR, AUP', AUR', AUPRC, AUROC
            assert 0.0 <= float(value) <= 1.0, r
        if r[1] == "random scores (floor)":
            assert abs(float(r[7]) - 0.5) < 0.15, r  # AUROC of random scores
        assert float(r[11]) >= 0.0  # seconds per 100 explanations


def test_cost_tiny_run_and_hand_written_loop():
    cfg = dict(
        cost.QUICK,
        explain_n=10,
        explain_fit_n=40,
        ig_steps=4,
        repeats=1,
        train_n=32,
        train_epochs=2,
        train_repeats=1,
        T_grid=(32,),
        T_n=8,
        n_grid=(),
    )
    text, timings = cost.explanation_cost(cfg)
    assert timings["predict"] > 0 and "× predict" in text
    text, stats = cost.training_throughput(cfg)
    assert stats["fit_s"] > 0 and stats["hand_s"] > 0 and "skorch overhead" in text
    text, points = cost.scaling(cfg)
    assert "error" not in points[("T", 32)], points
    assert points[("T", 32)]["peak_mb"] >= points[("T", 32)]["base_mb"] > 0


def test_hand_written_fit_trains_the_module():
    from tsinfluence import InfluenceClassifier
    from tsinfluence.datasets import make_signal_event

    X, y, _ = make_signal_event(n_samples=40, n_timestamps=12, random_state=0)
    X = X.astype(np.float32)
    est = InfluenceClassifier(k=3, max_epochs=1, random_state=0).fit(X, y)
    module = est.net_.module_
    before = [p.detach().clone() for p in module.parameters()]
    cost.hand_written_fit(module, X, y, ["joint"], batch_size=16, lr=1e-2, clip=1.0)
    changed = any(not torch.equal(a, p) for a, p in zip(before, module.parameters()))
    assert changed


def test_every_benchmark_module_imports():
    # run.py skips a module that fails to import with a note; a test catches it first
    import importlib

    for name in run.discover():
        importlib.import_module(f"benchmarks.{name}")


def test_run_discovers_modules_and_assembles(tmp_path, monkeypatch):
    names = run.discover()
    assert names[:3] == ["faithfulness", "accuracy", "cost"]
    assert "run" not in names
    results = tmp_path / "results"
    results.mkdir()
    (results / "cost.md").write_text("## Cost\n\nbody\n", encoding="utf-8")
    (results / "other.md").write_text("## Other\n", encoding="utf-8")
    monkeypatch.setattr(run, "RESULTS_DIR", results)
    monkeypatch.setattr(run, "RESULTS_MD", tmp_path / "RESULTS.md")
    monkeypatch.setattr(run, "RUN_LOG", results / "_runs.json")
    run.record_standalone("cost", quick=True, seconds=1.5)
    text = run.assemble("python -m benchmarks.run --assemble", {"broken": "skipped: import"})
    assert (tmp_path / "RESULTS.md").read_text(encoding="utf-8") == text
    assert "torch.get_num_threads()" in text and "scikit-learn" in text
    assert text.index("## Cost") < text.index("## Other")
    assert "`python -m benchmarks.cost --quick`" in text
    assert "`broken`: skipped: import" in text
    assert "TimeSHAP" in text


def test_accuracy_tiny_run_on_bundled_data():
    pytest.importorskip("aeon")
    from benchmarks import accuracy

    cfg = {
        "datasets": ("ItalyPowerDemand",),
        "seeds": (0,),
        "reference_seeds": 1,
        "max_epochs": 2,
        "columns": ("tsinfluence k=25%", "random k=25%"),
    }
    text = accuracy.run(cfg)
    (row,) = _table_rows(text, "ItalyPowerDemand")[:1]
    # name, "67/1029, T=24, D=1", classes, metric, two columns, worst seed: no failure note.
    assert row[1:4] == ["67/1029, T=24, D=1", "2", "accuracy"], row
    assert row[4] == row[6] and float(row[5]) >= 0.0
    assert "failed" not in text


def test_accuracy_teacher_column_shares_the_defaults_fit(monkeypatch):
    pytest.importorskip("aeon")
    from benchmarks import accuracy

    fits = []
    real = accuracy._neural
    monkeypatch.setattr(accuracy, "_neural", lambda *a: fits.append(a[0]) or real(*a))
    cfg = {
        "datasets": ("ItalyPowerDemand",),
        "seeds": (0,),
        "reference_seeds": 1,
        "max_epochs": 6,
        "columns": (accuracy.DEFAULTS, accuracy.TEACHER),
    }
    text = accuracy.run(cfg)
    assert fits == [accuracy.TEACHER]  # one fit gives both columns
    (row,) = _table_rows(text, "ItalyPowerDemand")[:1]
    # two columns, their two worst seeds, the teacher's fidelity on the test set
    assert len(row) == 4 + 2 + 2 + 1 and 0.0 <= float(row[-1]) <= 1.0, row
    assert "failed" not in text


def test_precision_recall_tint_hmm_truth_is_the_last_step():
    pytest.importorskip("tint.datasets")
    from benchmarks import precision_recall

    cfg = {"hmm": {"n_train": 6, "signal_length": 20}, "n_explain": 4}
    X, y, truth = precision_recall._hmm(0, cfg)
    assert X.shape == (10, 20, 3) and X.dtype == np.float32
    assert y.shape == (10,) and set(np.unique(y)) <= {0, 1}
    assert truth.shape == (10, 20) and truth[:, -1].all() and not truth[:, :-1].any()
    X2, y2, _ = precision_recall._hmm(0, cfg)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)  # seeded


def test_precision_recall_subset_run_merges_into_previous_file(tmp_path, monkeypatch):
    from benchmarks import precision_recall as pr

    def fake_rows(name, cfg):
        row = [name, "tsinfluence P(selected), T=1.0", *["0.500"] * 5, "new"]
        return [row], [name, "best", "a / b", "c / d", "e / f", "0.9", "no", "no"]

    monkeypatch.setattr(pr, "_dataset_rows", fake_rows)
    first = pr.run({**pr.FULL, "datasets": ("tint Arma rare-time", "state_switching GRU")})
    path = tmp_path / "precision_recall.md"
    path.write_text(first + "\n\nReading (hand-written). Kept.\n", encoding="utf-8")
    text = pr.run({**pr.FULL, "datasets": ("tint HMM", "tint Arma rare-time")}, path)
    rows = [_table_rows(text, n) for n in pr.DATASETS]
    assert [len(r) for r in rows] == [2, 0, 2, 2]  # one table row and one goal-check row each
    assert text.index("| state_switching GRU") < text.index("| tint HMM")
    assert text.rstrip().endswith("Reading (hand-written). Kept.")
    assert text.count(pr.PUBLISHED) == 1
    assert "prec@|truth|" in text and pr._previous(path)[0][0][2] == "0.500"


@pytest.mark.parametrize("shape", ["scattered", 1, 2, 4, 8])
def test_subset_shapes_masks_keep_a_quarter_in_their_shape(shape):
    from benchmarks.subset_shapes import subset_masks

    masks = subset_masks(2000, 150, shape, np.random.default_rng(0))
    assert masks.shape == (2000, 150) and masks.dtype == bool
    assert (masks.sum(axis=1) == round(0.25 * 150)).all()
    starts = np.diff(masks.astype(int), axis=1) == 1
    runs = starts.sum(axis=1) + masks[:, 0]
    if shape == "scattered":
        assert runs.mean() > 20  # uniform draws: mostly isolated steps
    else:
        assert (runs <= shape).all() and runs.mean() > shape - 0.5  # windows touch rarely
    # every step can be kept, anywhere in the series
    assert masks.any(axis=0)[[0, 75, 149]].all()


def test_subset_shapes_tiny_run_on_bundled_data():
    pytest.importorskip("aeon")
    from benchmarks import subset_shapes

    cfg = {"datasets": ("ItalyPowerDemand",), "seeds": (0,), "n_copies": 1}
    (row,) = _table_rows(subset_shapes.run(cfg), "ItalyPowerDemand")
    # name, metric, full series and the five shapes as "mean [worst]", seconds
    assert row[1] == "accuracy" and len(row) == 2 + 6 + 1, row
    assert all(0.0 <= float(cell.split(" [")[0]) <= 1.0 for cell in row[2:8])


def test_imbalance_data_keep_the_rare_share_and_a_balanced_held_out_set():
    from benchmarks import imbalance

    (X, y), (X_te, y_te, truth) = imbalance._data(0.05)
    assert (y == 0).sum() == imbalance.N_COMMON and (y == 1).sum() == 42  # 42 / 842 = 5 %
    assert (y_te == 0).sum() == (y_te == 1).sum() == imbalance.N_TEST
    assert truth.shape == X_te.shape[:2] and (truth.sum(1) == 3).all()
    # no held-out series is a training series
    assert not (X[:, None, :5, 0] == X_te[None, :, :5, 0]).all(-1).any()
