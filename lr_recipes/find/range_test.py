"""The LR range test (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017) on a LightningModule.

:func:`find_lr` runs ``trainer.fit`` on the model as it would train (its optimizer, precision, devices,
gradient accumulation and data), but overrides the LR: it rises exponentially from ``min_lr`` at the first
optimizer step to ``max_lr`` at the last. Every param group keeps its ratio to the optimizer's ``lr`` (a
backbone at 0.1x stays at 0.1x), so the LR found is the value to put in the optimizer's ``lr``. The loss of
each step (the mean over accumulated batches and over DDP ranks, so every rank sees the same curve and
stops at the same step) is smoothed; the test stops early once the smoothed loss exceeds ``diverge`` times
its best, or at the first NaN/inf.

Afterwards nothing of the test remains: the weights, BatchNorm statistics and gradients, the optimizers
and schedulers ``configure_optimizers`` returned, the torch/numpy/Python/CUDA RNGs and the trainer's loop
counters, callbacks, loggers and limits are as before, so ``trainer.fit`` then trains as if no test had
run (the same batches in the same order).

Where Lightning's ``Tuner.lr_find`` differs: it sets every param group to one LR, takes one optimizer,
smooths from zero with its bias correction one step off (the first points rise, #14167), suggests only the
steepest slope taken against the LR rather than log(LR) (#21141), records one micro-batch's scaled loss
under accumulation and lets each rank judge its own loss under DDP.

Example::

    >>> import torch
    >>> from lightning.pytorch import Trainer
    >>> from lightning.pytorch.demos.boring_classes import BoringModel
    >>> _ = torch.manual_seed(1)
    >>> model = BoringModel()
    >>> trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
    ...                   enable_checkpointing=False, max_epochs=1)
    >>> result = find_lr(model, trainer, num_steps=30, max_lr=1.0, verbose=False)
    >>> result.rule, result.lr < result.lrs[-1], trainer.global_step
    ('valley', True, 0)
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from lightning.pytorch.utilities.seed import isolate_rng
from typing_extensions import override

from lr_recipes.find.curve import RULE_LABELS, RULES, FindError, Rule, log_spaced, lr_at, smooth, suggest

MIN_DROP = 0.02
"""The smoothed loss must fall below the first losses by this fraction, or the test reports that it never fell."""


@dataclass
class LRFindResult:
    """What a range test measured and suggests.

    ``lrs[k]`` and ``losses[k]`` are the LR of optimizer step ``k`` (the optimizer's ``lr``; each param group
    trains at ``lrs[k] * group_ratios[i][g]``) and the loss measured on the batch of step ``k``, before its
    update. The curve pairs the loss after each step with that step's LR: ``curve_lrs``/``smoothed`` are the
    smoothed losses ``losses[1:]`` at the LRs of their EMA weights' centre of mass (see
    :mod:`lr_recipes.find.curve`).

    Attributes:
        lrs: the LR of each optimizer step taken.
        losses: the loss of each step (mean over accumulated batches and DDP ranks).
        smoothed: the smoothed curve.
        curve_lrs: the LR each smoothed value stands for.
        suggestions: the LR each rule suggests (``None``: it found none).
        rule: the chosen rule; :attr:`lr` is its suggestion.
        group_ratios: per optimizer, each param group's LR over the optimizer's ``lr``.
        stop: ``"diverged"`` (smoothed loss above ``diverge`` x best), ``"non-finite"`` or ``"max_lr"``.
        epochs: passes over the training data the test made.
        seconds: the test's wall time.

    Example::

        >>> r = LRFindResult([0.1, 1.0], [2.0, 1.0], [1.0], [0.1], {"valley": 0.1}, "valley", [[1.0, 0.5]])
        >>> r.lr, r.group_lrs()
        (0.1, [[0.1, 0.05]])
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    curve_lrs: list[float]
    suggestions: dict[str, float | None]
    rule: str
    group_ratios: list[list[float]]
    stop: str = "max_lr"
    epochs: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lr(self) -> float:
        """The chosen suggestion: ``suggestions[rule]``.

        Example::

            >>> LRFindResult([], [], [], [], {"minimum": 0.02}, "minimum", [[1.0]]).lr
            0.02
        """
        value = self.suggestions.get(self.rule)
        if value is None:
            raise FindError(f"rule {self.rule!r} found no LR on this curve; the others suggest {self.suggestions}")
        return value

    @property
    def diverged_at(self) -> float | None:
        """The LR of the last step before the test stopped on divergence, or ``None`` if it reached ``max_lr``.

        Example::

            >>> LRFindResult([0.1, 1.0, 10.0], [1.0, 0.5, 9.0], [], [], {}, "valley", [[1.0]], "diverged").diverged_at
            1.0
        """
        if self.stop == "max_lr" or len(self.lrs) < 2:
            return None
        return self.lrs[-2]

    def group_lrs(self, lr: float | None = None) -> list[list[float]]:
        """The LR of every param group of every optimizer when the optimizer's ``lr`` is ``lr`` (the suggestion).

        Example::

            >>> LRFindResult([], [], [], [], {"valley": 0.2}, "valley", [[1.0, 0.1]]).group_lrs()
            [[0.2, 0.020000000000000004]]
        """
        base = self.lr if lr is None else lr
        return [[base * r for r in ratios] for ratios in self.group_ratios]

    def loss_at(self, lr: float) -> float:
        """The smoothed loss at ``lr`` (the nearest point of the curve in log(LR)).

        Example::

            >>> LRFindResult([], [], [3.0, 2.0], [0.01, 0.1], {}, "valley", [[1.0]]).loss_at(0.08)
            2.0
        """
        best = min(range(len(self.curve_lrs)), key=lambda i: abs(math.log(self.curve_lrs[i] / lr)))
        return self.smoothed[best]

    def table(self) -> str:
        """The suggestions as a table, the chosen one starred, and how the test ended.

        Example::

            >>> r = LRFindResult([1e-3, 1e-2], [2.3, 2.0], [2.0], [1e-3], {"valley": 1e-3}, "valley", [[1.0]])
            >>> print(r.table().splitlines()[0])
            rule           lr          smoothed loss
        """
        lines = [f"{'rule':<14} {'lr':<11} smoothed loss"]
        for rule in RULES:
            lr = self.suggestions.get(rule)
            mark = "*" if rule == self.rule else " "
            shown = f"{lr:<11.4g} {self.loss_at(lr):.4g}" if lr is not None and self.curve_lrs else "-"
            lines.append(f"{RULE_LABELS[rule]:<12}{mark}  {shown}")
        steps = f"{len(self.lrs)} steps, {self.epochs:.2f} epochs, {self.seconds:.1f} s"
        if self.stop == "max_lr":
            lines.append(f"reached max_lr={self.lrs[-1]:.4g} without diverging ({steps})")
        else:
            lines.append(f"stopped: the loss {self._stop_words()} after lr={self.diverged_at:.4g} ({steps})")
        lines.extend(self.notes)
        return "\n".join(lines)

    def _stop_words(self) -> str:
        return "became NaN/inf" if self.stop == "non-finite" else "diverged"

    def apply(self, model: pl.LightningModule, lr: float | None = None) -> str:
        """Make ``model`` train at the suggestion (or ``lr``): see :func:`apply_lr`.

        Example::

            >>> # result.apply(model); trainer.fit(model, datamodule=dm)
        """
        return apply_lr(model, self.lr if lr is None else lr)

    def plot(self, out: str, title: str | None = None) -> str:
        """Draw the curve (loss against LR, log x), each suggestion marked, the chosen one labelled; save ``out``.

        Example::

            >>> # result.plot("lr_find.png")
        """
        from lr_recipes.plotting import draw_lr_find

        marks = {RULE_LABELS[rule]: lr for rule, lr in self.suggestions.items() if lr is not None}
        draw_lr_find(
            self.lrs[: len(self.losses) - 1],
            self.losses[1:],
            self.curve_lrs,
            self.smoothed,
            marks,
            chosen=RULE_LABELS[self.rule],
            diverged_at=self.diverged_at,
            out=out,
            title=title,
        )
        return out


def find_lr(
    model: pl.LightningModule,
    trainer: pl.Trainer,
    datamodule: pl.LightningDataModule | None = None,
    train_dataloaders: Any = None,
    *,
    min_lr: float = 1e-5,
    max_lr: float = 10.0,
    num_steps: int = 100,
    beta: float = 0.9,
    diverge: float = 4.0,
    rule: Rule = "valley",
    max_epochs: int = 3,
    verbose: bool = True,
) -> LRFindResult:
    """Run the LR range test on ``model`` with ``trainer``; restore everything; return the curve and suggestions.

    Call it before ``trainer.fit`` (not inside it). The defaults suit CIFAR-sized runs of SGD and Adam: six
    decades over 100 optimizer steps, 0.06 of a decade a step.

    Args:
        model: the LightningModule, as it will train.
        trainer: the Trainer that will train it (its precision, devices, accumulation and limits are used).
        datamodule: the data, as for ``trainer.fit``.
        train_dataloaders: or the training dataloader(s), as for ``trainer.fit``.
        min_lr: the optimizer's LR at the first step.
        max_lr: the LR at the last step, if the loss has not diverged before.
        num_steps: optimizer steps from ``min_lr`` to ``max_lr``.
        beta: the smoothing of the loss (EMA factor, 0 <= beta < 1).
        diverge: stop once the smoothed loss exceeds this many times its lowest value (> 1).
        rule: the suggestion to choose: ``"valley"`` (default), ``"steepest"`` or ``"minimum"`` (÷ 10).
        max_epochs: how many passes over the training data the test may make; a short loader repeats
            batches, and beyond a few passes the loss falls by memorising them, so the curve no longer
            says which LR trains.
        verbose: print progress and the table (rank 0).

    Returns:
        The :class:`LRFindResult`.

    Raises:
        FindError: for bad arguments; too few training batches for ``num_steps`` (before any step); a loss
            that is NaN/inf from the first step, diverges at once or never falls; a rule that finds no LR.

    Example::

        >>> # result = find_lr(model, trainer, datamodule=dm); result.apply(model); trainer.fit(model, dm)
    """
    lrs = log_spaced(min_lr, max_lr, num_steps)
    if rule not in RULES:
        raise FindError(f"rule={rule!r} is not allowed; allowed: {', '.join(map(repr, RULES))}")
    if not (isinstance(diverge, (int, float)) and diverge > 1.0):
        raise FindError(f"diverge={diverge!r} is not allowed; allowed: a number > 1 (times the best smoothed loss)")
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise FindError(f"max_epochs={max_epochs!r} is not allowed; allowed: an integer >= 1")
    if trainer.fast_dev_run:
        raise FindError("the range test cannot run with fast_dev_run; unset it")
    if trainer.state.status == TrainerStatus.RUNNING:
        raise FindError("find_lr was called during fit; call it before trainer.fit")
    smooth([], beta)  # validates beta before anything runs
    test = _RangeTest(lrs, beta, diverge, max_epochs, verbose)
    saved = _TrainerState(trainer)
    weights = _ModelState(model)
    start = time.perf_counter()
    with isolate_rng(include_cuda=torch.cuda.is_available()):
        try:
            trainer.fit_loop = saved.fresh_loop(trainer)
            trainer.should_stop = False
            trainer.callbacks = [test]
            trainer.loggers = []
            trainer.limit_val_batches = 0
            trainer.num_sanity_val_steps = 0
            trainer.fit(model, train_dataloaders=train_dataloaders, datamodule=datamodule)
        finally:
            test.restore_optimizers()
            saved.restore(trainer)
            weights.restore(model)
    if test.error is not None:
        raise test.error
    result = _result(test, rule, time.perf_counter() - start)
    if verbose:
        rank_zero_info(result.table())
    return result


def apply_lr(model: pl.LightningModule, lr: float) -> str:
    """Make ``model``'s next ``configure_optimizers`` use ``lr`` as the optimizer's LR; return what was set.

    A :class:`~lr_recipes.module.RecipeModule` gets its optimizer callable wrapped (every param group keeps
    its ratio, then ``scale_lr`` and the schedule apply as before); another module gets its ``lr`` or
    ``learning_rate`` attribute (or hyperparameter) set, as Lightning's tuner does.

    Raises:
        FindError: if the module has neither.

    Example::

        >>> import functools, torch
        >>> from lr_recipes.module import RecipeModule
        >>> m = RecipeModule(optimizer=functools.partial(torch.optim.SGD, lr=0.1))
        >>> apply_lr(m, 0.02)
        'the optimizer callable (lr 0.02, param groups keep their ratios)'
        >>> m.optimizer([torch.nn.Parameter(torch.zeros(1))]).param_groups[0]["lr"]
        0.02
    """
    from lightning.pytorch.utilities.parsing import lightning_hasattr, lightning_setattr

    from lr_recipes.module import RecipeModule

    if isinstance(model, RecipeModule):
        model.optimizer = _ScaledOptimizer(model.optimizer, lr)
        return f"the optimizer callable (lr {lr:g}, param groups keep their ratios)"
    for name in ("lr", "learning_rate"):
        if lightning_hasattr(model, name):
            lightning_setattr(model, name, lr)
            return f"model.{name} = {lr:g}"
    raise FindError(
        f"{type(model).__name__} has no lr or learning_rate attribute or hyperparameter and is no RecipeModule; "
        f"set its optimizer's lr to {lr:g} yourself"
    )


class _ScaledOptimizer:
    """An optimizer callable whose optimizer's ``lr`` is ``lr``, every param group scaled by the same factor."""

    def __init__(self, make: Any, lr: float) -> None:
        self.make, self.lr = make, lr

    def __call__(self, params: Any) -> torch.optim.Optimizer:
        optimizer = self.make(params)
        factor = self.lr / _reference_lr(optimizer)
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * factor
        optimizer.defaults["lr"] = self.lr
        return optimizer


def _reference_lr(optimizer: torch.optim.Optimizer) -> float:
    """The optimizer's ``lr`` argument (its default for groups that set none), else the first group's LR."""
    lr = optimizer.defaults.get("lr")
    if isinstance(lr, torch.Tensor):
        lr = float(lr)
    if not isinstance(lr, (int, float)) or not lr > 0:
        lr = _base_lr(optimizer.param_groups[0])
    return float(lr)


def _base_lr(group: dict[str, Any]) -> float:
    # A scheduler built in configure_optimizers has already moved "lr" to its first value (a warmup's start);
    # torch keeps the group's own LR in "initial_lr".
    return float(group.get("initial_lr", group["lr"]))


class _RangeTest(Callback):
    """Inside the test's fit: sets each step's LR, records the loss, stops on divergence or at the last LR."""

    def __init__(self, lrs: list[float], beta: float, diverge: float, max_epochs: int, verbose: bool) -> None:
        self.lrs, self.beta, self.diverge, self.max_epochs, self.verbose = lrs, beta, diverge, max_epochs, verbose
        self.losses: list[float] = []
        self.error: FindError | None = None
        self.stop = "max_lr"
        self.epochs = 0.0
        self.optimizers: list[torch.optim.Optimizer] = []
        self.ratios: list[list[float]] = []
        self._saved: list[tuple[Any, dict[str, Any]]] = []
        self._window: list[torch.Tensor] = []
        self._stepped = False
        self._batches = 0
        self._ema = (0.0, 0.0)
        self._best = math.inf

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.optimizers = list(trainer.optimizers)
        schedulers = [config.scheduler for config in trainer.lr_scheduler_configs]
        # configure_optimizers may hand back objects that outlive this fit; put them back as they were.
        self._saved = [(obj, copy.deepcopy(obj.state_dict())) for obj in [*self.optimizers, *schedulers]]
        trainer.strategy.lr_scheduler_configs = []  # the test alone sets the LR
        self.ratios = [[_base_lr(g) / _reference_lr(opt) for g in opt.param_groups] for opt in self.optimizers]
        loop = trainer.fit_loop
        loop.max_epochs, loop.min_epochs = self.max_epochs, 0
        loop.epoch_loop.max_steps, loop.epoch_loop.min_steps = -1, None
        self._check_batches(trainer)

    def _check_batches(self, trainer: pl.Trainer) -> None:
        batches = trainer.num_training_batches
        if math.isinf(batches):
            return  # an iterable dataset: the test runs until it has its steps or the data ends
        per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        steps = len(self.lrs)
        if per_epoch * self.max_epochs < steps:
            limit = trainer.limit_train_batches
            limited = f", limit_train_batches={limit}" if limit != 1.0 else ""
            cap = per_epoch * self.max_epochs
            self.error = FindError(
                f"too few training batches: the range test needs {steps} optimizer steps, but an epoch has "
                f"{per_epoch} ({batches} batches{limited}, accumulate_grad_batches={trainer.accumulate_grad_batches})"
                f" and the test may pass over the data max_epochs={self.max_epochs} times ({cap} steps). "
                f"Lower num_steps to {cap} or less, give it more batches "
                "(limit_train_batches, a smaller batch_size) or allow more passes (max_epochs)"
            )
            trainer.should_stop = True  # the loop ends before its first batch

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        lr = self.lrs[min(len(self.losses), len(self.lrs) - 1)]
        inner = getattr(optimizer, "_optimizer", optimizer)
        index = next((i for i, opt in enumerate(self.optimizers) if opt is inner), 0)
        for group, ratio in zip(inner.param_groups, self.ratios[index], strict=False):
            group["lr"] = lr * ratio
        self._stepped = True

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, torch.Tensor):
            self.error = FindError(
                "training_step returned no loss; the range test reads the loss it returns (with manual "
                "optimization, return the loss from training_step)"
            )
            trainer.should_stop = True
            return
        # Automatic optimization hands on the loss divided by the accumulation; undo it to average the window.
        scale = trainer.accumulate_grad_batches if pl_module.automatic_optimization else 1
        self._batches += 1
        self._window.append(loss.detach().to(torch.promote_types(loss.dtype, torch.float32)) * scale)
        if not self._stepped:
            return
        self._stepped = False
        mean = torch.stack(self._window).mean()
        self._window = []
        value = float(trainer.strategy.reduce(mean, reduce_op="mean"))
        self._record(trainer, value)

    def _record(self, trainer: pl.Trainer, value: float) -> None:
        k = len(self.losses)
        self.losses.append(value)
        batches = trainer.num_training_batches
        self.epochs = self._batches / batches if 0 < batches < math.inf else float(trainer.current_epoch)
        if not math.isfinite(value):
            self.stop = "non-finite"
        else:
            total, weight = self._ema
            total, weight = self.beta * total + value, self.beta * weight + 1.0
            self._ema = (total, weight)
            smoothed = total / weight
            if k > 1 and smoothed > self.diverge * self._best:
                self.stop = "diverged"
            self._best = min(self._best, smoothed)
        if self.verbose and (k % max(1, len(self.lrs) // 10) == 0):
            rank_zero_info(f"find: step {k + 1}/{len(self.lrs)}  lr {self.lrs[k]:.3g}  loss {value:.4g}")
        if self.stop != "max_lr" or k + 1 == len(self.lrs):
            trainer.should_stop = True

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Every rank computed the same curve from the same averages; rank 0's copy makes that certain.
        self.losses, self.stop = trainer.strategy.broadcast((self.losses, self.stop))

    def restore_optimizers(self) -> None:
        for obj, state in self._saved:
            obj.load_state_dict(state)


def _result(test: _RangeTest, rule: str, seconds: float) -> LRFindResult:
    losses = test.losses
    lrs = test.lrs[: len(losses)]
    if not losses or not math.isfinite(losses[0]):
        raise FindError(
            f"the loss is {losses[0] if losses else 'missing'} from the first step, before any LR could act: "
            "check the data (NaN/inf inputs or labels), the model's initialisation and the loss, or use "
            "32-bit precision if half precision overflows"
        )
    after = losses[1:]
    finite = next((i for i, v in enumerate(after) if not math.isfinite(v)), len(after))
    if finite < max(3, len(test.lrs) // 10):
        at = lrs[min(finite, len(lrs) - 1)]
        raise FindError(
            f"the loss diverged within {finite + 1} steps of min_lr={test.lrs[0]:g} (at lr {at:.3g}): "
            "the range starts too high; lower min_lr"
        )
    smoothed, centres = smooth(after[:finite], test.beta)
    curve_lrs = [lr_at(lrs, c) for c in centres]
    head = after[: max(3, finite // 10)]
    start = sum(head) / len(head)
    lowest = min(smoothed[finite // 10 :])
    if not lowest < start - MIN_DROP * abs(start):
        raise FindError(
            f"the loss never fell: its smoothed value stayed at or above {lowest:.4g} (the first steps: {start:.4g}) "
            f"from lr {lrs[0]:.3g} to {lrs[-1]:.3g}. Check that the model trains (parameters that require grad, a "
            "loss that depends on them, a non-zero optimizer lr), or widen the range (raise max_lr)"
        )
    suggestions = {r: suggest(curve_lrs, smoothed, r) for r in RULES}
    notes = []
    if test.stop == "max_lr":
        notes.append(f"note: the loss did not diverge up to max_lr={lrs[-1]:.4g}; a larger max_lr may show a larger LR")
    result = LRFindResult(
        lrs=list(lrs),
        losses=list(losses),
        smoothed=smoothed,
        curve_lrs=curve_lrs,
        suggestions=suggestions,
        rule=rule,
        group_ratios=test.ratios,
        stop=test.stop,
        epochs=test.epochs,
        seconds=seconds,
        notes=notes,
    )
    result.lr  # noqa: B018 -- raises FindError if the chosen rule found nothing
    return result


class _TrainerState:
    """What the test's fit changes on the trainer, saved before it and put back after.

    The test runs on a fresh fit loop (Lightning's own classes, with the trainer's limits, so the schedule
    built in ``configure_optimizers`` sees the run ``fit`` will do); the trainer's loop, with its progress,
    is put back untouched.
    """

    def __init__(self, trainer: pl.Trainer) -> None:
        self.callbacks, self.loggers = list(trainer.callbacks), list(trainer.loggers)
        self.limits = (trainer.limit_val_batches, trainer.num_sanity_val_steps)
        self.loop = trainer.fit_loop
        self.optimizers = trainer.strategy.optimizers
        self.schedulers = trainer.strategy.lr_scheduler_configs
        self.should_stop = trainer.should_stop

    def fresh_loop(self, trainer: pl.Trainer) -> Any:
        from lightning.pytorch.loops import _FitLoop, _TrainingEpochLoop

        old = self.loop
        loop = _FitLoop(trainer, min_epochs=old.min_epochs, max_epochs=old.max_epochs)
        loop.epoch_loop = _TrainingEpochLoop(trainer, min_steps=old.epoch_loop.min_steps, max_steps=old.max_steps)
        return loop

    def restore(self, trainer: pl.Trainer) -> None:
        trainer.callbacks, trainer.loggers = self.callbacks, self.loggers
        trainer.limit_val_batches, trainer.num_sanity_val_steps = self.limits
        trainer.fit_loop = self.loop
        trainer.strategy.optimizers = self.optimizers
        trainer.strategy.lr_scheduler_configs = self.schedulers
        trainer.should_stop = self.should_stop


class _ModelState:
    """The module's tensors (weights, buffers such as BatchNorm statistics), gradients and train/eval modes."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.tensors = {_key(k): v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
        self.grads = {_key(n): None if p.grad is None else p.grad.detach().clone() for n, p in model.named_parameters()}
        self.modes = {_key(n): m.training for n, m in model.named_modules()}
        # torchmetrics is the pack's; a module holding its metrics has imported it already.
        metrics = sys.modules.get("torchmetrics")
        self.metrics = [m for m in model.modules() if metrics is not None and isinstance(m, metrics.Metric)]

    def restore(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, tensor in model.state_dict(keep_vars=True).items():
                saved = self.tensors.get(_key(name))
                if saved is not None:
                    tensor.data.copy_(saved.to(tensor.device))
        for name, param in model.named_parameters():
            grad = self.grads.get(_key(name))
            param.grad = None if grad is None else grad.to(param.device)
        for name, module in model.named_modules():
            module.training = self.modes.get(_key(name), module.training)
        for metric in self.metrics:
            metric.reset()  # accumulated on the test's batches


def _key(name: str) -> str:
    # torch.compile (e.g. in configure_model, during the test's fit) wraps modules as `_orig_mod`.
    return name.replace("_orig_mod.", "").replace("._orig_mod", "")


__all__ = ["LRFindResult", "apply_lr", "find_lr"]
