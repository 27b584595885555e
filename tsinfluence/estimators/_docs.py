"""The Parameters section shared by both estimators' docstrings."""

ESTIMATOR_PARAMETERS = """Parameters
    ----------
    k : int or float, default=0.25
        Timestamps to select per series: an int, or a fraction in (0, 1] of each series'
        valid length (at least one step). ``k >= length`` selects every valid step. For
        ``selection_method="threshold"`` it is the target selection rate.
    selection_method : {"topk", "gumbel", "threshold"} or torch.nn.Module, default="topk"
        ``"topk"``: the exact top-k, deterministic, straight-through relaxed gradient.
        ``"gumbel"``: exact-k subsets sampled with Gumbel noise in training (more
        exploration), top-k at prediction. ``"threshold"``: sigmoid gates with a budget
        term; a variable number of steps. A module mapping scores ``(n, T)`` to a mask
        ``(n, T)`` replaces the strategy.
    temperature : float, default=1.0
        Temperature of the relaxation that carries the selector's gradient.
    threshold : float, default=0.5
        Gate threshold of ``selection_method="threshold"``.
    hidden_dim : int, default=64
        Width of the attention scorer and the predictor.
    num_heads : int, default=4
        Attention heads of the scorer (must divide ``hidden_dim``).
    num_layers : int, default=1
        Transformer encoder blocks of the scorer.
    dropout : float, default=0.1
        Dropout rate.
    positional_encoding : {"sinusoidal", "learned", None}, default="sinusoidal"
        How the scorer and the attention predictor encode positions.
    causal : bool, default=False
        Causal attention in the scorer (step t only sees steps <= t).
    predictor : {"attention", "mlp"} or torch.nn.Module, default="attention"
        The model that predicts from the selected steps: ContextFlow-style attention
        pooling (differentiable in the mask at every step), an MLP over the packed selected
        steps, or any module mapping the masked series ``(n, T, D)`` to ``(n, n_outputs)``
        (``n_classes`` logits for a classifier, one value for a regressor).
    freeze_predictor : bool, default=False
        Explain a fitted ``predictor`` module without changing it: only the selector is
        trained (black-box mode).
    training_scheme : {"two_stage", "joint"}, default="two_stage"
        ``"two_stage"`` (REAL-X style) first trains the predictor on random subsets of
        steps drawn independently of the data, then trains the selector against that frozen
        predictor, so the selection pattern cannot encode the label. ``"joint"`` trains both
        together: often as accurate, but the selection may then point at the wrong steps
        (the encoding problem); check it with :func:`tsinfluence.metrics.encoding_gap`.
    evaluator_fraction : float, default=0.5
        Share of ``max_epochs`` spent training the predictor in ``"two_stage"``.
    alpha_diversity : float, default=0.0
        Weight of the DPP diversity term (favours dissimilar selected steps; it works
        against contiguous events, hence off by default).
    alpha_mi : float, default=0.0
        Weight of the InfoNCE term between selected steps and the full series.
    sigma : float, default=1.0
        Bandwidth of the DPP kernel.
    max_epochs : int, default=50
        Training epochs.
    lr : float, default=3e-3
        Learning rate.
    batch_size : int, default=64
        Mini-batch size for training and inference (results do not depend on it).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch.optim.Optimizer class, default="adam"
        Optimiser.
    weight_decay : float, default=0.0
        Weight decay of the optimiser.
    gradient_clip : float or None, default=1.0
        Maximum gradient norm; ``None`` disables clipping.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (in memory) and stop when its
        loss has not improved for ``patience`` epochs, restoring the best epoch.
    patience : int, default=5
        Epochs without improvement before early stopping.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    callbacks : list of skorch callbacks or (name, callback) tuples, optional
        Extra callbacks for the skorch net (copied at each ``fit``).
    transform_mode : {"global", "per_sample"}, default="global"
        ``transform`` keeps the globally most influential timestamps (stable columns) or
        each series' own selection (other steps zeroed).
    transform_shape : {"2d", "3d"}, default="2d"
        ``transform`` output flattened to 2D, or kept as ``(n, steps, channels)``.
    precision : {"float32", "float64"}, default="float32"
        Floating point precision of the network.
    device : str or torch.device, default="cpu"
        Where to train and predict, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds every source of randomness of ``fit``; with an int two fits are
        bit-identical on CPU. The caller's global torch RNG is left untouched.
    verbose : int, default=0
        0 is silent; 1 prints a progress bar and a per-epoch log."""
