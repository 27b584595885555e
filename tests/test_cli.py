"""The ``tsinfluence`` command, run in-process on tiny data."""

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsinfluence import cli
from tsinfluence.cli import _commands
from tsinfluence.cli._data import BUILTIN, BUILTIN_K
from tsinfluence.cli._output import _steps_text
from tsinfluence.datasets import make_signal_event
from tsinfluence.persistence import FORMAT_VERSION, load_model, read_model_metadata

FAST = [
    "--quiet",
    "--epochs",
    "2",
    "--param",
    "module__hidden_dim=8",
    "--param",
    "module__num_heads=2",
]
SMALL_BUILTIN = {**BUILTIN, "n_samples": 50, "n_timestamps": 10, "n_train": 40}


def run(capsys, command, *argv):
    """Run ``tsinfluence <command split on spaces> <argv>``; returns (code, stdout, stderr)."""
    code = cli.main([*command.split(), *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def long_frame(n=24, seed=0):
    """Long format: string ids, irregular time values, 2 channels, unequal lengths."""
    X, y, _ = make_signal_event(n_samples=n, n_timestamps=8, n_channels=2, random_state=seed)
    rows = []
    for i in range(n):
        length = 8 if i % 3 else 6
        for t in range(length):
            rows.append({"sid": f"s{i:02d}", "when": 10 * t + 5, "a": X[i, t, 0], "b": X[i, t, 1]})
            rows[-1]["label"] = "yes" if y[i] else "no"
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def builtin_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("builtin") / "model.pt"
    mp = pytest.MonkeyPatch()
    mp.setattr(_commands, "BUILTIN", SMALL_BUILTIN)
    try:
        assert cli.main(["train", "--model", str(path), *FAST]) == 0
    finally:
        mp.undo()
    return path


@pytest.fixture(scope="module")
def long_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    data = folder / "train.csv"
    long_frame().to_csv(data, index=False)
    path = folder / "model.pt"
    argv = ["train", "--data", str(data), "--id-col", "sid", "--time-col", "when"]
    argv += ["--target", "label", "--test-size", "0", "--model", str(path), *FAST]
    assert cli.main(argv) == 0
    return path, data


def test_builtin_train_summary(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(_commands, "BUILTIN", SMALL_BUILTIN)
    path = tmp_path / "m.pt"
    code, out, _ = run(capsys, "train --model", path, *FAST)
    assert code == 0
    assert "Trained InfluenceClassifier on 40 series (10 time steps, 4 channels)" in out
    assert "Held-out accuracy (10 series):" in out
    assert "Agreement with the true event steps (held-out AUROC):" in out
    assert f"Model saved to {path}" in out
    est = load_model(path)
    steps = _steps_text(range(10), est.selected_timestamps_)
    assert f"Most influential time steps overall: {steps}" in out
    assert (
        est.k == BUILTIN_K and est.max_epochs == 2 and est.get_params()["module__hidden_dim"] == 8
    )
    assert read_model_metadata(path)["extra"]["cli"] == SMALL_BUILTIN


def test_train_with_prediction_full_reports_fidelity(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(_commands, "BUILTIN", SMALL_BUILTIN)
    argv = [*FAST, "--param", "prediction=full"]
    argv[argv.index("--epochs") + 1] = "4"  # a teacher phase needs a few epochs
    code, out, _ = run(capsys, "train --model", tmp_path / "m.pt", *argv)
    assert code == 0
    assert "Held-out accuracy (10 series):" in out
    assert "Fidelity (the selected steps alone give the full-series prediction):" in out


def test_steps_text_names_runs_of_three_or_more_as_ranges():
    labels = [f"d{t}" for t in range(12)]
    assert _steps_text(labels, [9, 0, 1, 2, 3, 5, 6, 11]) == "d0 to d3, d5, d6, d9, d11"
    assert _steps_text(range(12), [4]) == "t=04"
    assert _steps_text(range(12), []) == ""


def _held_out():
    X, y, truth = make_signal_event(
        n_samples=50, n_timestamps=10, n_channels=4, event_strength=3.0, random_state=0
    )
    return X[40:43], truth[40:43]


def test_explain_builtin_text(capsys, builtin_model):
    code, out, _ = run(capsys, "explain --topk 4 --model", builtin_model)
    assert code == 0
    est = load_model(builtin_model)
    X, truth = _held_out()
    influence = est.influence_scores(X)
    proba = est.predict_proba(X)
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 3  # the first three held-out series
    for i, block in enumerate(blocks):
        lines = block.splitlines()
        assert lines[0] == f"series {40 + i}"
        assert lines[1] == f"P(class=1) = {proba[i, 1]:.2f}"
        assert lines[2] == "Most influential time steps:"
        order = np.argsort(-influence[i], kind="stable")[:4]
        expected = [f"  t={t:02d}  weight={influence[i, t]:.2f}" for t in order]
        assert lines[3:7] == expected
        true_steps = _steps_text(range(10), np.flatnonzero(truth[i]))
        assert lines[7] == f"True event steps: {true_steps}"


def test_explain_builtin_json_and_csv(capsys, builtin_model):
    code, out, _ = run(capsys, "explain --topk 3 --format json --limit 2", "--model", builtin_model)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    est = load_model(builtin_model)
    X, _ = _held_out()
    influence = est.influence_scores(X)
    assert [r["id"] for r in records] == [40, 41]
    for i, record in enumerate(records):
        assert set(record) == {"id", "prediction", "probabilities", "top"}
        assert record["prediction"] == int(est.predict(X[i : i + 1])[0])
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        times = [entry["time"] for entry in record["top"]]
        assert times == list(np.argsort(-influence[i], kind="stable")[:3])
        weights = [entry["weight"] for entry in record["top"]]
        assert weights == pytest.approx(influence[i, times], abs=1e-6)
    code, out, _ = run(capsys, "explain --topk 2 --format csv --model", builtin_model)
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["id", "prediction", "rank", "time", "weight"]
    assert frame["id"].tolist() == [40, 40, 41, 41, 42, 42]
    assert frame["rank"].tolist() == [1, 2] * 3


def test_long_format_roundtrip(capsys, long_model):
    path, data = long_model
    est = load_model(path)
    assert est.n_channels_in_ == 2 and est.n_features_in_ == 8
    assert set(est.classes_) == {"no", "yes"}
    # Column names are remembered: explain needs only --data.
    code, out, _ = run(capsys, "explain --format json --topk 8", "--model", path, "--data", data)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [f"s{i:02d}" for i in range(24)]
    for i, record in enumerate(records):
        times = [entry["time"] for entry in record["top"]]
        length = 8 if i % 3 else 6
        # Only real steps, reported by their time value in the file.
        assert sorted(times) == [10 * t + 5 for t in range(length)]
        assert record["prediction"] in ("no", "yes")


def test_long_format_predict_reports_score(capsys, long_model):
    path, data = long_model
    code, out, err = run(capsys, "predict --model", path, "--data", data)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 24
    sid, prediction, proba = lines[0].split("\t")
    assert sid == "s00" and prediction in ("prediction=no", "prediction=yes")
    assert proba.startswith("P(class=yes) = ")
    assert err.startswith("accuracy on 24 series: ")


def test_wide_parquet_regression(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    y = 2.0 * X[:, 2] + 0.1 * rng.normal(size=40)  # continuous: detected as regression
    frame = pd.DataFrame(X, columns=[f"d{t}" for t in range(6)])
    frame.insert(0, "name", [f"n{i}" for i in range(40)])
    frame["y"] = y
    data = tmp_path / "wide.parquet"
    frame.to_parquet(data)
    model = tmp_path / "reg.pt"
    code, out, _ = run(
        capsys, "train --id-col name --target y --k 2", "--data", data, "--model", model, *FAST
    )
    assert code == 0
    assert "Trained InfluenceRegressor on 32 series (6 time steps, 1 channels)" in out
    assert "Held-out R^2 (8 series):" in out
    est = load_model(model)
    # Steps are named by their columns (d2), not "t=d2".
    named = _steps_text([f"d{t}" for t in range(6)], est.selected_timestamps_)
    assert f"Most influential time steps overall: {named}\n" in out
    code, out, _ = run(capsys, "predict --format csv --model", model, "--data", data)
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["id", "prediction"]
    np.testing.assert_allclose(table["prediction"], est.predict(frame[[f"d{t}" for t in range(6)]]))
    code, out, _ = run(
        capsys, "explain --format json --topk 2 --limit 1", "--model", model, "--data", data
    )
    record = json.loads(out)
    assert record["id"] == "n0"
    assert isinstance(record["prediction"], float)
    assert {entry["time"] for entry in record["top"]} <= {f"d{t}" for t in range(6)}


def test_counterfactual_json(capsys, builtin_model):
    code, out, err = run(
        capsys, "counterfactual --format json --limit 2 --max-iter 40", "--model", builtin_model
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2
    est = load_model(builtin_model)
    X, _ = _held_out()
    for i, record in enumerate(records):
        assert record["prediction"] == int(est.predict(X[i : i + 1])[0])
        assert record["counterfactual_prediction"] in (0, 1)
        assert record["valid"] == (record["counterfactual_prediction"] != record["prediction"])
        for change in record["changes"]:
            assert change["from"] != change["to"]
            assert change["from"] == pytest.approx(
                X[i, change["time"], change["channel"]], abs=1e-5
            )
        if record["valid"]:
            assert record["changes"] and record["distance"] > 0
    code, out, err = run(capsys, "counterfactual --limit 1 --desired 7 --model", builtin_model)
    assert code == 1 and "--desired '7' is not a class" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "nope"], "target (--target) column(s) ['nope'] not in the data"),
        (["--target", "label", "--time-col", "when"], "also needs --id-col"),
        (["--target", "label", "--id-col", "sid", "--time-col", "nope"], "['nope'] not in"),
        (["--target", "label"], "are not numeric"),  # long data read as wide
        (
            ["--target", "label", "--id-col", "sid", "--time-col", "when", "--param", "kk=1"],
            "has no parameter 'kk'",
        ),
    ],
)
def test_train_errors_are_one_line(capsys, tmp_path, argv, message):
    data = tmp_path / "d.csv"
    long_frame(n=6).to_csv(data, index=False)
    code, out, err = run(capsys, "train --data", data, "--model", tmp_path / "m.pt", *argv, *FAST)
    assert code == 1
    assert err.startswith("tsinfluence: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "m.pt").exists()


def test_input_errors_are_one_line(capsys, tmp_path, long_model, builtin_model):
    path, data = long_model
    odd = tmp_path / "data.txt"
    odd.write_text("a,b\n1,2\n")
    narrow = tmp_path / "narrow.csv"
    long_frame().drop(columns="b").to_csv(narrow, index=False)
    cases = [
        (["predict", "--model", str(path), "--data", str(odd)], "unknown data file type"),
        (["predict", "--model", str(path), "--data", str(narrow)], "['b'] not found"),
        (["explain", "--model", str(path)], "was not trained on the built-in dataset"),
        (["explain", "--model", str(tmp_path / "none.pt")], "No such model file"),
        (["explain", "--model", str(data)], "not a tsinfluence model file"),
        (["predict", "--model", str(path), "--data", str(tmp_path / "x.csv")], "no such data"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, "", *argv)
        assert code == 1, argv
        assert err.startswith("tsinfluence: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1


def test_channel_mismatch_is_reported(capsys, tmp_path, builtin_model):
    # A wide file has one channel; the built-in model has four.
    X, _, _ = make_signal_event(n_samples=3, n_timestamps=10, n_channels=1, random_state=0)
    data = tmp_path / "wide.csv"
    pd.DataFrame(X[:, :, 0]).to_csv(data, index=False)
    code, _, err = run(capsys, "predict --model", builtin_model, "--data", data)
    assert code == 1
    assert "X has 1 channels" in err and "4 channels" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["explain"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--model", "m.pt", "--param", "novalue"])
    assert info.value.code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_info(capsys, builtin_model):
    code, out, _ = run(capsys, "info --model", builtin_model)
    info = json.loads(out)
    assert code == 0
    assert info["format_version"] == FORMAT_VERSION and info["estimator"] == "InfluenceClassifier"
    assert "influence_scores_" in info["fitted"]


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "tsinfluence", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("tsinfluence ")
