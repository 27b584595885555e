"""The Parameters section shared by both estimators' docstrings."""

__all__ = ["CLASS_WEIGHT_PARAMETER", "estimator_parameters"]

_PARAMETERS = """Parameters
    ----------
    k : int or float, default=0.25
        Timestamps to select per series: an int, or a fraction in (0, 1] of each series'
        valid length (at least one step). ``k >= length`` selects every valid step. For
        ``selection_method="threshold"`` it is the target selection rate.
    selection_method : {"topk", "gumbel", "threshold"} or torch.nn.Module, default="topk"
        ``"topk"``: the exact top-k at prediction (deterministic); in training, subsets
        are sampled (``selector_gradient="score_function"``) or relaxed.
        ``"gumbel"``: exact-k subsets sampled with Gumbel noise in training (more
        exploration), top-k at prediction. ``"threshold"``: sigmoid gates with a budget
        term; a variable number of steps. A module mapping scores ``(n, T)`` to a mask
        ``(n, T)`` replaces the strategy.
    scorer : {"cnn", "attention"}, default="cnn"
        The network that scores every step: a small convolutional network with
        relative-position channels (linear in the series length), or multi-head
        self-attention (``module__num_heads``, ``module__num_layers``,
        ``module__positional_encoding`` and
        ``module__causal`` apply to it).
    predictor : {"cnn", "attention", "mlp"} or torch.nn.Module, default="cnn"
        The model that predicts from the selected steps: a fully convolutional network on
        the masked series and the mask (:class:`tsinfluence.nn.ConvHead`; accurate on real
        series), ContextFlow-style attention pooling, an MLP over the packed selected
        steps, or any module mapping the masked series ``(n, T, D)`` to ``(n, n_outputs)``
        (``n_classes`` logits for a classifier, one value for a regressor). All are
        differentiable in the mask at every step except the MLP.
        With ``freeze_predictor=True`` it may also be a fitted model without gradient: a
        scikit-learn-compatible estimator (classifier: ``decision_function`` margins if it
        has one, else ``predict_proba``, else ``predict``; regressor: ``predict``) or a plain
        callable ``X -> probabilities or values`` (a classifier's callable returns
        ``(n, n_classes)`` probabilities or logits, columns in the order of ``classes_``, or
        ``(n,)`` for the second of two classes). The model is called with ``X`` in the
        layout passed to ``fit``: ``(n, T)`` if that was 2D, else ``(n, T, D)`` channels
        last, as float64. A channels-first (aeon, sktime) model is handed over in one line
        as ``predictor=tsinfluence.utils.ChannelsFirst(model)``; a model on flattened
        multivariate series as ``predictor=lambda X: model.predict_proba(X.reshape(len(X),
        -1))``. Hard 0/1 probabilities (many classifiers, e.g. aeon's MiniRocket) still
        train the selector: the reward is then agreement with the full-series class.
        The margins of a model without ``predict_proba`` (a ridge classifier, a linear
        SVM) are rescaled by one factor fixed in ``fit``, so that the median margin of the
        training series is as confident as that agreement reward; log-odds (a model with
        ``predict_proba``) are used as they are.
    freeze_predictor : bool, default=False
        Black-box mode: explain the fitted ``predictor`` (a torch module, a fitted skorch
        net, a fitted scikit-learn-compatible estimator or a callable) without changing it.
        Only the selector is trained, so that the frozen model's output on the selected
        steps (others replaced by ``baseline``) matches its output on the full series: KL
        divergence for a classifier, squared error scaled by the output variance for a
        regressor. ``y`` only sets ``classes_`` (they must be the model's classes).
        ``predict`` is the frozen model on the selected steps; ``score(X, y)`` keeps its
        scikit-learn meaning (against ``y``); ``fidelity(X)`` measures agreement with the
        model on the full series. The model is never refit or modified: a module or
        estimator is deep-copied (a callable is used as it is), and ``clone`` keeps a
        fitted scikit-learn predictor fitted. Such an estimator pickles when its model
        does; :func:`tsinfluence.save_model` refuses user models (pickle instead).
    training_scheme : {"two_stage", "joint"}, default="two_stage"
        ``"two_stage"`` (REAL-X style) trains the predictor first, then the selector
        against it, frozen, so the selection pattern cannot encode the label. The
        predictor is trained first (two thirds of its steps) as a *teacher* on every step
        of the series, then as an *evaluator* on random subsets of steps drawn
        independently of the data (a few contiguous windows, scattered steps, or the whole
        series), starting from the teacher's weights and pulled towards the teacher's
        predictions (distillation).
        After the selector phase the predictor is fine-tuned on the frozen selector's
        selections of *other* series (the last eighth of the epochs), so it predicts well
        from the subsets the selector picks while a series' own selection never meets its
        label.
        ``"joint"`` trains both together: often as accurate, but the selection may then
        point at the wrong steps (the encoding problem); check it with
        :func:`tsinfluence.metrics.encoding_gap`.
    selector_gradient : {"score_function", "straight_through"}, default="score_function"
        How the selector phase trains the selector. ``"score_function"``: REINFORCE with a
        leave-one-out baseline over 8 subsets sampled per series (Gumbel top-k), rewarded
        by real evaluations of the frozen predictor (top-k and Gumbel only); it needs only
        the predictor's outputs, so it is the only choice for a frozen model without
        gradient (all samples of a batch go to the model in one call).
        ``"straight_through"``: the gradient of the loss on the
        hard selection, through a relaxation; it linearises the predictor and can point
        away from a step whose inclusion really helps (see ``benchmarks/RESULTS.md``).
    baseline : {"mean", "zeros", "noise", "sample", "learned", "interpolate"}, default="mean"
        What replaces the unselected steps before a model that reads the whole series.
        Black-box mode (all options): the training mean of each (step, channel), zeros,
        Gaussian noise with the training mean and standard deviation, draws from the
        training data (each unselected step takes that step's values in a random training
        series, drawn independently per step), a learned constant series (trained with the
        selector through a gradient, so with score-function training it stays at the mean;
        it does not depend on the series, so it cannot carry information about it), or
        straight lines between the series' own selected values. ``"noise"`` and
        ``"sample"`` draw afresh in training and use one fixed draw at prediction time.
        Built-in ``"cnn"`` predictor: ``"interpolate"`` draws those lines (a subset spread
        over a smooth series keeps its shape); any other value fills with the training
        mean. Measured in ``benchmarks/RESULTS.md``: ``"interpolate"`` is more accurate on
        some real series, less on others and on sparse synthetic events (an XOR of two
        spikes), hence not the default. The ``"attention"`` and ``"mlp"`` heads pool over
        the selected steps only and ignore it.
    prediction : {"selected", "full"}, default="selected"
        What :meth:`predict` (and ``predict_proba``, ``score``) returns. ``"selected"``: the
        predictor's prediction from the selected steps only, so the prediction is made
        from what :meth:`select` shows. ``"full"``: the prediction of the full-series
        teacher that ``training_scheme="two_stage"`` trains first (kept in the fitted
        model), or of the frozen model in black-box mode, from every step; the selection
        then explains that prediction rather than makes it, and :meth:`fidelity` measures
        how often the predictor on the selected steps alone agrees with it. Training is the
        same for both values. Use ``"full"`` where the selected steps cannot carry the
        accuracy of the whole series (see "Predicting from the full series" in the user
        guide).
    scaling : {"auto", "standard", "asinh"}, default="auto"
        How the built-in networks bring each channel to unit scale (the statistics of the
        training series, kept in the model). Every channel is standardised; ``"asinh"``
        first compresses it by ``asinh((x - median) / spread)``, a signed logarithm for
        channels whose magnitude differs by orders of magnitude between series (counts,
        amounts), which plain standardisation would flatten to 0 in all but the largest
        series. ``"auto"`` compresses only such channels: those in which the typical series
        has a standard deviation below 0.1 times the whole channel's (never a channel of
        series z-normalised one by one). ``"standard"`` never compresses. The compression is
        applied to each step's value alone, so it does not change which steps a model can
        see. A user's torch ``predictor`` always receives the series in its own units.
    max_epochs : int or None, default=None
        Training epochs. ``None`` counts the budget in optimiser steps instead, so that a
        data set of 50 series is trained as well as one of 5,000: 3,200 steps in all (a
        black-box fit, which trains only the selector, takes ``1 - evaluator_fraction`` of
        them), and at least 10 epochs.
    lr : float, default=1e-3
        Initial learning rate of each training phase; it decays along a half cosine within
        the phase.
    batch_size : int, default=32
        Mini-batch size for training. Inference does not use it: it runs series in chunks
        of up to 65,536 time steps in all; the chunking changes results by float rounding only.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch.optim.Optimizer class, default="adam"
        Optimiser.
    gradient_clip : float or None, default=1.0
        Maximum gradient norm; ``None`` disables clipping.
    early_stopping : bool, default=False
        Hold out ``early_stopping__validation_fraction`` of the training data (in memory)
        and stop when its loss has not improved for ``early_stopping__patience`` epochs,
        restoring the best epoch.
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
        0 is silent; 1 prints one line per training phase (epochs, last training loss,
        seconds); 2 prints skorch's table of every epoch.
    **kwargs
        Component settings, named ``<group>__<name>`` (skorch style: ``clone``,
        ``set_params`` and ``GridSearchCV`` take them like any parameter, e.g.
        ``{"module__hidden_dim": [16, 32]}``). Each has one default
        (``tsinfluence.estimators._params.GROUPED_PARAMETERS``); those not passed keep
        it. ``module__*``: the network; ``loss__*``: the loss terms; ``schedule__*``: the
        training phases; ``optimizer__*``: the optimiser (``optimizer__weight_decay`` or any other
        argument of its constructor, e.g. ``optimizer__momentum`` for ``"sgd"``);
        ``early_stopping__*``: early stopping.

        ``module__temperature`` : float, default=1.0
            Temperature of the selection distribution in training: the logits are standardised
            per series and divided by it before subsets are sampled (score-function gradient) or
            relaxed (straight-through gradient). With score-function gradients the sampling
            temperature is annealed over the selector phase from this value to a quarter of it,
            so the sampled subsets approach the top-k used at prediction; the influence scores
            are the inclusion probabilities at that last temperature.
        ``module__threshold`` : float, default=0.5
            Gate threshold of ``selection_method="threshold"``.
        ``module__hidden_dim`` : int, default=32
            Width of the scorer and the predictor (the ``"cnn"`` predictor has
            ``hidden_dim``, ``2 * hidden_dim`` and ``hidden_dim`` filters).
        ``module__num_heads`` : int, default=4
            Attention heads of the attention scorer (must divide ``module__hidden_dim``).
        ``module__num_layers`` : int, default=1
            Transformer encoder blocks of the attention scorer.
        ``module__dropout`` : float, default=0.1
            Dropout rate.
        ``module__positional_encoding`` : {"sinusoidal", "learned", None}, default="sinusoidal"
            How the attention scorer and the attention predictor encode positions. ``"learned"``
            has one embedding per fitted position, so such a model refuses series longer than
            those it was fitted on.
        ``module__causal`` : bool, default=False
            Causal attention in the attention scorer (step t only sees steps <= t).
        ``schedule__evaluator_fraction`` : float, default=0.85
            Share of the epochs spent training the predictor (teacher, evaluator and the final
            adaptation to the selector's subsets) in ``"two_stage"``; the rest trains the
            selector.
        ``schedule__context_rate`` : float in [0, 1], default=0.3
            Random context in the selector phase: each unselected step is also shown to the
            frozen predictor with this probability (independently of the data), annealed
            linearly to 0 over the first half of the selector phase. A step that matters only
            together with another one then earns credit, which makes the selector phase robust
            (see ``docs/faithfulness_notes.md``).
        ``schedule__dense_fraction`` : float in [0, 1], default=0.5
            Dense-to-sparse curriculum in the selector phase (and in black-box mode): the budget
            starts this fraction of the way from ``k`` to the whole series and is annealed to
            ``k`` with ``schedule__context_rate``. Needed when the model's output has no
            gradient with respect to a step that is absent (e.g. a product of two channels).
        ``loss__alpha_deletion`` : float or None, default=None
            Weight of a deletion term in the selector phase: the predictor on the steps *not*
            selected should know no more than with no step at all (black-box: its output should
            be as far from the full-series output as with no step). Rewards selecting every
            informative step (redundant copies, both halves of an interaction, the whole of an
            event): once the evaluator is certain from part of the evidence, the label
            likelihood no longer tells subsets apart, and this term still asks for the rest.
            With score-function gradients the term is part of each sampled subset's
            reward (the complement scored by the predictor), so it works for models without
            gradient too; for a classifier trained on the labels it is added only on the
            series whose sampled subsets all give the label a probability above 0.9 (a
            tie-breaker among sufficient subsets, and the complements are scored for those
            series only). ``None`` means 1.0 for a black-box regressor, where the squared-error
            fidelity alone is led astray by subsets whose values happen to cancel, and 0
            otherwise. Set it to 0.25 when the evidence for a prediction should fit within
            ``k`` steps (a transient event, a window of known length) and all of it should be
            reported: on box data it raised the worst seed's AUROC from 0.92 to 0.99. It is
            not the classifier's default because on real data at ``k=0.25`` it cost accuracy
            (ACSF1 -0.06 on two seeds) and, at larger weights, ranking where ``k`` is smaller
            than the evidence (``docs/faithfulness_notes.md``).
        ``loss__alpha_diversity`` : float, default=0.0
            Weight of the DPP diversity term (favours dissimilar selected steps; it works
            against contiguous events, hence off by default).
        ``loss__alpha_mi`` : float, default=0.0
            Weight of the InfoNCE term between selected steps and the full series.
        ``loss__sigma`` : float, default=1.0
            Bandwidth of the DPP kernel.
        ``optimizer__weight_decay`` : float, default=0.0
            Weight decay of the optimiser.
        ``early_stopping__patience`` : int, default=5
            Epochs without improvement before early stopping.
        ``early_stopping__validation_fraction`` : float, default=0.1
            Share of the training data held out for early stopping."""


#: The classifier's own parameter, listed before the component settings.
CLASS_WEIGHT_PARAMETER = """class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{class label: weight}`` (classes not named weigh 1), or
        ``"balanced"``: ``n_samples / (n_classes * count of the class)``, as in
        scikit-learn. Training batches draw each series with a probability proportional to
        its class's weight (with replacement, as many draws per epoch as series), so every
        training phase sees the classes in those proportions and its loss is, in
        expectation, the class-weighted loss. Use it when a class is rare: with the rare
        class at 5 % of the training series, ``"balanced"`` raised the balanced accuracy
        from 0.87 to 0.95 and the rare class's recall from 0.73 to 0.91 (5 seeds; the ROC
        AUC stayed 0.997: the weights move the decision, not the ranking;
        ``benchmarks/RESULTS.md``, "A rare class"). ``None`` shuffles the series as they
        are. The validation loss of early stopping is not weighted."""


def estimator_parameters(own: str = "") -> str:
    """The Parameters section of an estimator's docstring, with ``own`` parameters added.

    Parameters
    ----------
    own : str, default=""
        numpydoc entries, indented as the shared ones, inserted before ``**kwargs``.

    Returns
    -------
    str
    """
    if not own:
        return _PARAMETERS
    return _PARAMETERS.replace("\n    **kwargs\n", f"\n    {own}\n    **kwargs\n", 1)
