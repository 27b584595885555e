"""Shared implementation of InfluenceClassifier and InfluenceRegressor.

sklearn semantics over a private skorch net (composition, not inheritance): the estimator
validates, seeds and translates; the torch module does the work.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import GradientNormClipping, PassthroughScoring, ProgressBar
from skorch.dataset import ValidSplit
from torch import nn

from .._validation import check_param, check_time_series
from ..nn.framework import InfluenceFramework
from ..nn.heads import BASELINES, MaskBaseline
from ..nn.scaling import fit_input_scalers
from ..nn.selection import SELECTION_METHODS, resolve_k
from ._net import LOSS_COMPONENTS, FinalPhaseEarlyStopping, InfluenceNet, PhaseSchedule, device_list

__all__ = ["InfluenceBase"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
TRAINING_SCHEMES = ("two_stage", "joint")
#: Most timestamps (series x length) processed at once at inference (bounds memory).
INFERENCE_STEPS = 2**20


class InfluenceBase(BaseEstimator, metaclass=ABCMeta):
    """Base class; use :class:`InfluenceClassifier` or :class:`InfluenceRegressor`.

    The parameters are documented on the two estimators.
    """

    _task: str  # "classification" or "regression", set by the leaf classes

    def __init__(
        self,
        k=0.25,
        selection_method="topk",
        temperature=1.0,
        threshold=0.5,
        hidden_dim=64,
        num_heads=4,
        num_layers=1,
        dropout=0.1,
        positional_encoding="sinusoidal",
        causal=False,
        predictor="attention",
        freeze_predictor=False,
        training_scheme="two_stage",
        evaluator_fraction=0.7,
        context_rate=0.3,
        dense_fraction=0.5,
        alpha_deletion=None,
        baseline="mean",
        alpha_diversity=0.0,
        alpha_mi=0.0,
        sigma=1.0,
        max_epochs=50,
        lr=3e-3,
        batch_size=64,
        optimizer="adam",
        weight_decay=0.0,
        gradient_clip=1.0,
        early_stopping=False,
        patience=5,
        validation_fraction=0.1,
        callbacks=None,
        transform_mode="global",
        transform_shape="2d",
        precision="float32",
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.k = k
        self.selection_method = selection_method
        self.temperature = temperature
        self.threshold = threshold
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.dropout = dropout
        self.positional_encoding = positional_encoding
        self.causal = causal
        self.predictor = predictor
        self.freeze_predictor = freeze_predictor
        self.training_scheme = training_scheme
        self.evaluator_fraction = evaluator_fraction
        self.context_rate = context_rate
        self.dense_fraction = dense_fraction
        self.alpha_deletion = alpha_deletion
        self.baseline = baseline
        self.alpha_diversity = alpha_diversity
        self.alpha_mi = alpha_mi
        self.sigma = sigma
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.gradient_clip = gradient_clip
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.transform_mode = transform_mode
        self.transform_shape = transform_shape
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        """Validate every hyper-parameter (sklearn: in ``fit``, not ``__init__``)."""
        k = self.k
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(
                "k must be an int >= 1 (a number of timestamps) or a float in (0, 1] (a "
                f"fraction of the series length), got {k!r}."
            )
        if isinstance(k, numbers.Integral) and k < 1:
            raise ValueError(
                f"k must be >= 1 when it is an int (a number of timestamps), got {k}; use a "
                "float in (0, 1] for a fraction of the series length."
            )
        if not isinstance(k, numbers.Integral) and not 0.0 < float(k) <= 1.0:
            raise ValueError(
                f"k must be in (0, 1] when it is a float (a fraction of the series length), "
                f"got {k}; use an int >= 1 for a number of timestamps."
            )
        if isinstance(self.selection_method, str):
            check_param(
                "selection_method", self.selection_method, "option", options=SELECTION_METHODS
            )
        elif not isinstance(self.selection_method, nn.Module):
            raise TypeError(
                "selection_method must be 'topk', 'gumbel', 'threshold' or a torch.nn.Module "
                f"mapping scores (n, T) to a mask (n, T); got {self.selection_method!r}."
            )
        check_param("temperature", self.temperature, numbers.Real, low=0.0, include_low=False)
        check_param("threshold", self.threshold, numbers.Real, low=0.0, high=1.0, include_low=False)
        check_param("hidden_dim", self.hidden_dim, numbers.Integral, low=1)
        check_param("num_heads", self.num_heads, numbers.Integral, low=1)
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be divisible by num_heads={self.num_heads}."
            )
        check_param("num_layers", self.num_layers, numbers.Integral, low=0)
        check_param("dropout", self.dropout, numbers.Real, low=0.0, high=1.0)
        check_param(
            "positional_encoding",
            self.positional_encoding,
            "option",
            options=("sinusoidal", "learned", None),
        )
        if not (
            isinstance(self._user_predictor(), nn.Module) or self.predictor in ("attention", "mlp")
        ):
            raise ValueError(
                "predictor must be 'attention', 'mlp' or a torch.nn.Module, got "
                f"{self.predictor!r}."
            )
        check_param("training_scheme", self.training_scheme, "option", options=TRAINING_SCHEMES)
        check_param(
            "evaluator_fraction",
            self.evaluator_fraction,
            numbers.Real,
            low=0.0,
            high=1.0,
            include_low=False,
        )
        for name in ("context_rate", "dense_fraction"):
            check_param(name, getattr(self, name), numbers.Real, low=0.0, high=1.0)
        check_param("baseline", self.baseline, "option", options=BASELINES)
        if self.alpha_deletion is not None:
            check_param("alpha_deletion", self.alpha_deletion, numbers.Real, low=0.0)
        for name in ("alpha_diversity", "alpha_mi", "weight_decay"):
            check_param(name, getattr(self, name), numbers.Real, low=0.0)
        check_param("sigma", self.sigma, numbers.Real, low=0.0, include_low=False)
        check_param("max_epochs", self.max_epochs, numbers.Integral, low=1)
        check_param("lr", self.lr, numbers.Real, low=0.0, include_low=False)
        check_param("batch_size", self.batch_size, numbers.Integral, low=1)
        if not (
            self.optimizer in OPTIMIZERS
            or (
                isinstance(self.optimizer, type)
                and issubclass(self.optimizer, torch.optim.Optimizer)
            )
        ):
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer "
                f"subclass, got {self.optimizer!r}."
            )
        if self.gradient_clip is not None:
            check_param(
                "gradient_clip", self.gradient_clip, numbers.Real, low=0.0, include_low=False
            )
        check_param("patience", self.patience, numbers.Integral, low=1)
        check_param(
            "validation_fraction",
            self.validation_fraction,
            numbers.Real,
            low=0.0,
            high=1.0,
            include_low=False,
        )
        check_param(
            "transform_mode", self.transform_mode, "option", options=("global", "per_sample")
        )
        check_param("transform_shape", self.transform_shape, "option", options=("2d", "3d"))
        check_param("precision", self.precision, "option", options=DTYPES)
        check_param("verbose", self.verbose, numbers.Integral, low=0)
        if self.freeze_predictor and not isinstance(self._user_predictor(), nn.Module):
            raise ValueError(
                "freeze_predictor=True explains a fitted model: pass it as predictor=<your "
                "torch.nn.Module>."
            )

    def _torch_device(self) -> torch.device:
        """The torch device of ``device``, checked to exist on this machine."""
        expected = "expected 'cpu', 'cuda', 'cuda:<index>', 'mps' or a torch.device"
        if self.device is not None and not isinstance(self.device, str | torch.device):
            raise TypeError(
                f"device must be a string or a torch.device ({expected}), got {self.device!r}."
            )
        try:
            device = torch.device("cpu" if self.device is None else self.device)
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(
                f"device={self.device!r} is not a valid torch device; {expected}."
            ) from None
        if device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device={self.device!r} is not supported; {expected}.")
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} was requested but CUDA is not available on this "
                    "machine; use device='cpu'."
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device={self.device!r} was requested but this machine has "
                    f"{torch.cuda.device_count()} CUDA device(s)."
                )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(
                f"device={self.device!r} was requested but MPS is not available on this "
                "machine; use device='cpu'."
            )
        return device

    def _validate_X(self, X, reset: bool = False):
        """Validate ``X`` for this estimator; returns ``(X (n, T, D), padding_mask)``.

        With ``reset=True`` (``fit``) the series must have at least 2 timestamps, and a
        ``k`` that selects every timestamp warns (see :meth:`_check_k_covers_series`).
        """
        if not reset:
            check_is_fitted(self)
        X, padding_mask = check_time_series(
            X,
            self,
            reset=reset,
            dtype=DTYPES[self.precision][0] if reset else self._np_dtype_,
            length=None if reset else self.n_features_in_,
        )
        if not reset and X.shape[2] != self.n_channels_in_:
            raise ValueError(
                f"X has {X.shape[2]} channels, but {type(self).__name__} was fitted with "
                f"{self.n_channels_in_} channels; expected X of shape (n_samples, "
                f"{self.n_features_in_}, {self.n_channels_in_})"
                + (" or (n_samples, n_timestamps)." if self.n_channels_in_ == 1 else ".")
            )
        if reset:
            if X.shape[1] < 2:
                raise ValueError(
                    f"X has {X.shape[1]} feature(s) (timestamps) per series, but "
                    f"{type(self).__name__} needs at least 2 timestamps to select the "
                    "influential ones."
                )
            self._check_k_covers_series(X.shape[1])
        return X, padding_mask

    def _check_k_covers_series(self, n_timestamps: int) -> None:
        """Warn when ``k`` selects every one of the ``n_timestamps`` steps.

        Not an error: the selection layer clips ``k`` to each series' valid length (needed
        for series of unequal length, where ``k`` may exceed some of them), and ``k = T``
        is a legitimate no-selection baseline. But with ``k >= T`` the selection explains
        nothing and the influence scores only rank steps that are all used, so it is most
        likely a mistake.
        """
        k = self.k
        if isinstance(k, numbers.Integral):
            resolved = min(int(k), n_timestamps)
        else:
            resolved = min(max(round(n_timestamps * float(k)), 1), n_timestamps)
        if resolved >= n_timestamps:
            warnings.warn(
                f"k={k!r} selects all {n_timestamps} timestamps of the series, so the "
                "selection explains nothing; use an int k < n_timestamps or a fraction such "
                "as k=0.25.",
                UserWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train the selector and the predictor.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Training series (see :func:`tsinfluence._validation.check_time_series`).
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self
        """
        self._check_params()
        device = self._torch_device()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, padding_mask = self._validate_X(X, reset=True)
        self._np_dtype_ = X.dtype
        y = self._prepare_targets(y, len(X))
        if self.freeze_predictor and self._task == "regression":
            # Black-box mode: the frozen model already predicts in the units of y.
            self.target_mean_, self.target_scale_ = 0.0, 1.0
        self.n_channels_in_ = X.shape[2]
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=device_list(device)):
            torch.manual_seed(seed)
            module = self._build_module(X.shape[1], X.shape[2], X)
            fit_input_scalers(module, X, padding_mask)  # per-channel standardisation
            if self.freeze_predictor:
                self._check_frozen_output(module, X)
            net = self._build_net(module, seed, device).initialize()
            # partial_fit: the net is initialised once (fit would initialise it again).
            net.partial_fit({"x": X, "padding_mask": padding_mask}, y)
        net.module_.eval()
        self.net_ = net
        self.history_ = net.history
        self.influence_scores_ = self._influence(X, padding_mask).mean(axis=0)
        k = int(resolve_k(self._k_param(), torch.ones(1, X.shape[1], dtype=torch.bool))[0])
        order = np.argsort(-self.influence_scores_, kind="stable")
        self.selected_timestamps_ = np.sort(order[:k])
        self._cf_reference_ = self._reference_set(X, padding_mask, y, seed)
        return self

    def _reference_set(self, X, padding_mask, y, seed: int) -> dict:
        """A bounded random sample of the training data for counterfactual search.

        At most 500 series and about two million values; padding is restored as NaN and
        targets are in the user's units (class labels or values).
        """
        size = min(len(X), 500, max(50, 2_000_000 // (X.shape[1] * X.shape[2])))
        keep = np.sort(np.random.default_rng(seed).choice(len(X), size=size, replace=False))
        X_ref = np.where(padding_mask[keep, :, None], np.nan, X[keep])
        if self._task == "classification":
            y_ref = self.classes_[y[keep]]
        else:
            y_ref = y[keep].astype(np.float64) * self.target_scale_ + self.target_mean_
        return {"X": X_ref, "y": y_ref}

    def _user_predictor(self):
        """The user's predictor module (a fitted skorch net gives its ``module_``), or None."""
        predictor = self.predictor
        if isinstance(predictor, nn.Module):
            return predictor
        module = getattr(predictor, "module_", None)
        return module if isinstance(module, nn.Module) else None

    def _check_frozen_output(self, module: InfluenceFramework, X: np.ndarray) -> None:
        """Check that the frozen model maps ``(n, T, D)`` to the outputs this task needs."""
        dtype = DTYPES[self.precision][1]
        x = torch.as_tensor(X[:2], dtype=dtype)
        try:
            with torch.no_grad():
                out = module.full_prediction(x)
        except Exception as exc:  # the user's model rejected the input
            raise ValueError(
                f"The frozen predictor failed on input of shape {tuple(x.shape)} "
                f"(n_samples, n_timestamps, n_channels): {exc}"
            ) from exc
        expected = self._output_dim() if self._task == "classification" else 1
        if out.dim() != 2 or out.shape[1] != expected:
            what = f"{expected} logits (one per class)" if expected > 1 else "one value"
            raise ValueError(
                f"The frozen predictor must return {what} per series, shape (n, {expected}); "
                f"got {tuple(out.shape)}."
            )

    def _alpha_deletion(self) -> float:
        """``alpha_deletion``, with ``None`` resolved: 1.0 for a black-box regressor, else 0."""
        if self.alpha_deletion is not None:
            return float(self.alpha_deletion)
        return 1.0 if self.freeze_predictor and self._task == "regression" else 0.0

    def _k_param(self):
        return int(self.k) if isinstance(self.k, numbers.Integral) else float(self.k)

    def _build_module(
        self, n_timestamps: int, n_channels: int, X: np.ndarray | None = None
    ) -> InfluenceFramework:
        predictor = self.predictor
        baseline = None
        if self._user_predictor() is not None:
            # A copy: the user's model (weights, mode, flags, device) is never touched.
            predictor = copy.deepcopy(self._user_predictor())
            if self.freeze_predictor:
                mean = std = None
                if X is not None:
                    mean = torch.as_tensor(X.mean(axis=0), dtype=torch.float32)
                    std = torch.as_tensor(X.std(axis=0), dtype=torch.float32)
                baseline = MaskBaseline(self.baseline, n_timestamps, n_channels, mean, std)
        selection = self.selection_method
        module = InfluenceFramework(
            n_channels,
            hidden_dim=self.hidden_dim,
            selection_method=selection if isinstance(selection, str) else "topk",
            k=self._k_param(),
            task_loss_fn=self._task_loss(),
            use_counterfactual=False,
            output_dim=self._output_dim(),
            task=self._task,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            temperature=self.temperature,
            dropout=self.dropout,
            positional_encoding=self.positional_encoding,
            causal=self.causal,
            threshold=self.threshold,
            predictor=predictor,
            alpha_diversity=self.alpha_diversity,
            alpha_mi=self.alpha_mi,
            use_mi=self.alpha_mi > 0,
            sigma=self.sigma,
            max_len=max(n_timestamps, 1),
            objective="fidelity" if self.freeze_predictor else "task",
            baseline=baseline,
            alpha_deletion=self._alpha_deletion(),
        )
        if isinstance(selection, nn.Module):
            module.selector.selector = copy.deepcopy(selection)
        return module.to(DTYPES[self.precision][1])

    def _build_net(self, module, seed: int, device: torch.device) -> InfluenceNet:
        schedule = PhaseSchedule(
            "frozen" if self.freeze_predictor else self.training_scheme,
            self.evaluator_fraction,
            context_rate=self.context_rate,
            dense_fraction=self.dense_fraction,
        )
        callbacks = [("phase", schedule)]
        for name in LOSS_COMPONENTS:
            callbacks.append((f"train_{name}", PassthroughScoring(f"train_{name}", on_train=True)))
        # User callbacks score each epoch before early stopping may end training.
        callbacks.extend(copy.deepcopy(self.callbacks or []))
        train_split = None
        if self.early_stopping:
            train_split = ValidSplit(
                self.validation_fraction,
                stratified=self._task == "classification",
                random_state=seed,
            )
            callbacks.append(
                (
                    "early_stopping",
                    FinalPhaseEarlyStopping(
                        patience=self.patience, load_best=True, sink=self._sink
                    ),
                )
            )
        if self.gradient_clip is not None:
            callbacks.append(("gradient_clip", GradientNormClipping(self.gradient_clip)))
        if self.verbose > 0:
            callbacks.append(("progress_bar", ProgressBar()))
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        return InfluenceNet(
            module=module,
            criterion=self._task_loss(),
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=min(int(self.verbose), 1),
        )

    def _sink(self, message: str) -> None:
        if self.verbose > 0:
            print(message)

    # ------------------------------------------------------------------ inference
    def _forward(self, X: np.ndarray, padding_mask: np.ndarray, what: str = "predict"):
        """Batched no-grad inference; returns numpy ``(output, mask)`` or influence.

        Series are processed in chunks of at most ``batch_size`` series and
        :data:`INFERENCE_STEPS` timestamps in all, so memory stays bounded for long series.
        Every series is computed independently of the others (eval mode, no batch
        statistics), so the result does not depend on the chunking. Only reads the fitted
        module: safe to call from several threads at once.
        """
        module = self.net_.module_
        device = torch.device(self.net_.device or "cpu")
        dtype = next(module.parameters()).dtype
        outputs, masks = [], []
        step = max(1, min(int(self.batch_size), INFERENCE_STEPS // max(X.shape[1], 1)))
        with torch.no_grad():
            for start in range(0, len(X), step):
                x = torch.as_tensor(X[start : start + step], dtype=dtype, device=device)
                pad = torch.as_tensor(padding_mask[start : start + step], device=device)
                if what == "influence":
                    outputs.append(module.influence(x, pad).cpu().numpy())
                    continue
                mask, _ = module.selector(x, pad, return_scores=True)
                pred, _ = module.predict_masked(x, mask, pad)
                outputs.append(pred.cpu().numpy())
                masks.append(mask.cpu().numpy() > 0.5)
        if what == "influence":
            return np.concatenate(outputs).astype(np.float64)
        return np.concatenate(outputs).astype(np.float64), np.concatenate(masks)

    def _influence(self, X, padding_mask):
        """Influence ``(n, T)`` of validated ``X``: rows sum to 1, exactly 0 at padding."""
        influence = self._forward(X, padding_mask, what="influence")
        influence[padding_mask] = 0.0
        return influence

    def _raw_predict(self, X):
        X, padding_mask = self._validate_X(X)
        return self._forward(X, padding_mask)[0]

    def influence_scores(self, X) -> np.ndarray:
        """Per-sample influence of every timestamp.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_samples, n_timestamps)
            Non-negative, each row sums to one over the valid steps; padded steps are 0.
        """
        X, padding_mask = self._validate_X(X)
        return self._influence(X, padding_mask)

    def select(self, X) -> np.ndarray:
        """Boolean ``(n_samples, n_timestamps)`` mask of the timestamps selected per sample."""
        X, padding_mask = self._validate_X(X)
        return self._forward(X, padding_mask)[1]

    def fidelity(self, X) -> float:
        """Agreement of the prediction from the selected steps with the full-series one.

        The predictor (in black-box mode, the frozen model) is run twice: on the selected
        steps only (what :meth:`predict` returns) and on every step. Classifier: the
        fraction of series whose predicted class is the same. Regressor: the R² of the
        selected-step predictions against the full-series predictions. 1.0 means the
        selection alone reproduces what the model does with the whole series; unlike
        :meth:`score`, ``y`` is not involved.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])

        Returns
        -------
        float
        """
        X, padding_mask = self._validate_X(X)
        selected = self._decode(self._forward(X, padding_mask)[0])
        module = self.net_.module_
        device = torch.device(self.net_.device or "cpu")
        dtype = next(module.parameters()).dtype
        full = []
        step = max(int(self.batch_size), 1)
        for start in range(0, len(X), step):
            x = torch.as_tensor(X[start : start + step], dtype=dtype, device=device)
            pad = torch.as_tensor(padding_mask[start : start + step], device=device)
            full.append(module.full_prediction(x, pad).cpu().numpy().astype(np.float64))
        full = self._decode(np.concatenate(full))
        if self._task == "classification":
            return float(np.mean(selected.argmax(axis=1) == full.argmax(axis=1)))
        residual = np.sum((selected - full) ** 2)
        total = np.sum((full - full.mean()) ** 2)
        return float(1.0 - residual / total) if total > 0 else float(residual == 0)

    # ------------------------------------------------------------------ transform
    def transform(self, X):
        """Keep the influential timestamps.

        ``transform_mode="global"`` keeps the same ``selected_timestamps_`` for every series
        (stable columns, like ``SelectKBest`` over time); ``"per_sample"`` keeps each
        series' own selection and zeroes the other steps. ``transform_shape="2d"`` flattens
        to ``(n_samples, n_steps * n_channels)`` so any scikit-learn estimator can follow;
        ``"3d"`` returns ``(n_samples, n_steps, n_channels)``.

        Returns
        -------
        ndarray
            2D (default) or 3D; dtype follows ``precision``.
        """
        X, padding_mask = self._validate_X(X)
        if self.transform_mode == "global":
            out = X[:, self.selected_timestamps_, :]
        else:
            mask = self._forward(X, padding_mask)[1]
            out = X * mask[:, :, None]
        if self.transform_shape == "3d":
            return out
        return out.reshape(len(out), -1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of 2D :meth:`transform` output, by timestamp and channel.

        Timestamps are named by ``feature_names_in_`` when the model was fitted on a wide
        DataFrame, else ``t<index>``; with several channels ``_c<channel>`` is appended.
        """
        check_is_fitted(self)
        if hasattr(self, "feature_names_in_"):
            times = np.asarray(self.feature_names_in_, dtype=object)
        else:
            times = np.array([f"t{t}" for t in range(self.n_features_in_)], dtype=object)
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names; expected "
                f"{self.n_features_in_} (one per timestamp)."
            )
        if input_features is not None:
            times = np.asarray(input_features, dtype=object)
        steps = (
            self.selected_timestamps_
            if self.transform_mode == "global"
            else np.arange(self.n_features_in_)
        )
        if self.n_channels_in_ == 1:
            return np.asarray([str(times[t]) for t in steps], dtype=object)
        return np.asarray(
            [f"{times[t]}_c{d}" for t in steps for d in range(self.n_channels_in_)], dtype=object
        )

    # ------------------------------------------------------------------ explanation
    def counterfactual(self, X, target=None, method="optimize", n_samples=1, **kwargs):
        """Search the smallest edit of the influential steps that changes the prediction.

        See :func:`tsinfluence.counterfactual.generate_counterfactuals` for the methods and
        options; the fitted estimator is never changed.

        Returns
        -------
        CounterfactualResult
        """
        from ..counterfactual import generate_counterfactuals

        return generate_counterfactuals(
            self, X, target=target, method=method, n_samples=n_samples, **kwargs
        )

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _prepare_targets(self, y, n_samples: int) -> np.ndarray:
        """Validate ``y``, set the target attributes, return the encoded training targets."""

    @abstractmethod
    def _output_dim(self) -> int:
        """Number of outputs of the built-in predictor heads."""

    @abstractmethod
    def _task_loss(self):
        """The task loss ``(raw outputs, encoded targets) -> scalar``."""

    @abstractmethod
    def _decode(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs to probabilities ``(n, n_classes)`` or values ``(n,)``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
