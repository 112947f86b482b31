"""Durations with explicit units: ``"30ep"``, ``"500st"``, ``"10%"``.

A schedule's durations (warmup, step size, milestones, periods) are written with a unit and resolved to
optimizer steps against the real run. A bare number is an error: a StepLR user's ``step_size: 30`` meant
epochs, and silently reading it as 30 optimizer steps would ruin the run.

Example::

    >>> d = Duration.parse("2.5ep", param="warmup")
    >>> d.to_steps(total_steps=1000, steps_per_epoch=100)
    250
    >>> Duration.parse("10%").to_steps(total_steps=1000, steps_per_epoch=None)
    100
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["ep", "st", "%"]

SPELLINGS = '"30ep" (epochs, fractional allowed), "500st" (optimizer steps) or "10%" (of the whole run)'

_ALIASES: dict[str, Unit] = {
    "ep": "ep",
    "epoch": "ep",
    "epochs": "ep",
    "st": "st",
    "step": "st",
    "steps": "st",
    "%": "%",
}
_PATTERN = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%]+)\s*$")


class DurationError(ValueError):
    """A duration that cannot be parsed or does not fit the run."""


@dataclass(frozen=True)
class Duration:
    """A length of training time with its unit.

    Args:
        value: the amount, ``>= 0``; epochs may be fractional, steps must be whole.
        unit: ``"ep"`` (epochs), ``"st"`` (optimizer steps) or ``"%"`` (percent of the whole run).

    Example::

        >>> Duration(30, "ep")
        Duration('30ep')
        >>> str(Duration.parse("500 steps"))
        '500st'
    """

    value: float
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in ("ep", "st", "%"):
            raise DurationError(f"unit {self.unit!r} is not one of 'ep', 'st', '%'")
        if not math.isfinite(self.value) or self.value < 0:
            raise DurationError(f"duration {self.value}{self.unit} must be finite and >= 0")
        if self.unit == "st" and self.value != int(self.value):
            raise DurationError(f"{self.value}st is not a whole number of optimizer steps")

    @classmethod
    def parse(cls, value: object, *, param: str = "duration") -> Duration:
        """Read ``"30ep"``, ``"500st"``, ``"10%"`` (or a :class:`Duration`); anything else is an error.

        Args:
            value: the text from Python or YAML.
            param: the parameter's name, used in the error message.

        Raises:
            DurationError: for a bare number, an unknown unit or a negative amount.

        Example::

            >>> Duration.parse("0.5ep")
            Duration('0.5ep')
        """
        if isinstance(value, Duration):
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise DurationError(
                f"{param}={value!r} ({type(value).__name__}) is not a duration; write it as {SPELLINGS}"
            )
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise DurationError(f"{param}={value!r} is not a finite duration; write it as {SPELLINGS}")
        if isinstance(value, (int, float)):
            raise DurationError(
                f"{param}={value!r} has no unit; write {SPELLINGS}. "
                f'For example "{_fmt(value)}ep" if you meant epochs or "{_fmt(value)}st" if you meant steps.'
            )
        match = _PATTERN.match(value)
        if match is None:
            try:
                if not math.isfinite(float(value)):
                    raise ValueError(value)
            except ValueError:
                raise DurationError(f"{param}={value!r} is not a duration; write it as {SPELLINGS}") from None
            raise DurationError(
                f"{param}={value!r} has no unit; write {SPELLINGS}. "
                f'For example "{value.strip()}ep" if you meant epochs or "{value.strip()}st" if you meant steps.'
            )
        amount, unit_text = float(match.group(1)), match.group(2).lower()
        unit = _ALIASES.get(unit_text)
        if unit is None:
            raise DurationError(f"{param}={value!r}: unknown unit {unit_text!r}; write it as {SPELLINGS}")
        try:
            return cls(amount, unit)
        except DurationError as err:
            raise DurationError(f"{param}={value!r}: {err}") from None

    def to_steps(self, total_steps: int | None, steps_per_epoch: int | None, *, param: str = "duration") -> int:
        """Resolve to a whole number of optimizer steps (rounded to the nearest step).

        Args:
            total_steps: optimizer steps in the whole run (needed for ``%``).
            steps_per_epoch: optimizer steps per epoch (needed for ``ep``).
            param: the parameter's name, used in the error message.

        Raises:
            DurationError: when the unit needs a number the run does not provide.

        Example::

            >>> Duration.parse("1.5ep").to_steps(total_steps=None, steps_per_epoch=391)
            587
        """
        if self.unit == "st":
            return int(self.value)
        if self.unit == "ep":
            if steps_per_epoch is None:
                raise DurationError(
                    f"{param}={self} is in epochs, but the number of optimizer steps per epoch is unknown "
                    "(an iterable dataset without a length?); give it in steps, e.g. '500st'"
                )
            return _round_half_up(self.value * steps_per_epoch)
        if total_steps is None:
            raise DurationError(
                f"{param}={self} is a fraction of the run, but the run's length is unknown "
                "(set trainer.max_steps or max_epochs); give it in steps or epochs"
            )
        return _round_half_up(self.value / 100.0 * total_steps)

    def __str__(self) -> str:
        return f"{_fmt(self.value)}{self.unit}"

    def __repr__(self) -> str:
        return f"Duration({str(self)!r})"


def _round_half_up(x: float) -> int:
    # Half up, not Python's banker's rounding (which sends 0.5ep of 391 steps to 196 but 1.5ep to 586).
    # The epsilon keeps products like 0.7 * 10 = 7.000000000000001 or 2.9999999999999996 on the right side.
    return math.floor(x + 0.5 + 1e-9)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Run:
    """The run a schedule is resolved against: its length and its epoch length, in optimizer steps.

    Args:
        total_steps: optimizer steps in the whole run, or ``None`` when open-ended.
        steps_per_epoch: optimizer steps per epoch, or ``None`` when unknown (iterable dataset).

    Example::

        >>> run = Run(total_steps=3910, steps_per_epoch=391)
        >>> run.steps("2ep", param="warmup"), run.steps("10%", param="decay")
        (782, 391)
    """

    total_steps: int | None
    steps_per_epoch: int | None

    def steps(self, value: object, *, param: str) -> int:
        """Parse ``value`` as a :class:`Duration` and resolve it to optimizer steps.

        Example::

            >>> Run(total_steps=100, steps_per_epoch=10).steps("500st", param="period")
            500
        """
        return Duration.parse(value, param=param).to_steps(self.total_steps, self.steps_per_epoch, param=param)

    @classmethod
    def from_trainer(cls, trainer: Any) -> Run:
        """Read the run from a Lightning ``Trainer`` that is fitting (call from ``configure_optimizers``).

        Optimizer steps per epoch are ``ceil(train batches / accumulate_grad_batches)``: Lightning steps on
        the last, partial accumulation window of an epoch too. The train batches are counted per process
        after DDP sharding and ``limit_train_batches``. The total is the smaller of ``max_steps`` and
        ``max_epochs`` epochs; ``trainer.estimated_stepping_batches`` rounds the accumulation over the
        whole run instead of per epoch, which undercounts when the epoch is not a multiple of it.

        Raises:
            DurationError: if the trainer's gradient accumulation varies by epoch.

        Example::

            >>> class FakeTrainer:  # the attributes a Lightning Trainer has once its data is set up
            ...     estimated_stepping_batches, num_training_batches = 20, 10
            ...     accumulate_grad_batches, max_epochs, max_steps = 3, 2, -1
            >>> Run.from_trainer(FakeTrainer())
            Run(total_steps=8, steps_per_epoch=4)
        """
        # estimated_stepping_batches sets the train dataloader up (and shards it) if that has not happened,
        # except when the run is bounded by max_steps alone: then it returns early, and so must the data.
        estimated = trainer.estimated_stepping_batches
        batches = trainer.num_training_batches
        if batches == math.inf and getattr(trainer, "train_dataloader", None) is None and hasattr(trainer, "fit_loop"):
            trainer.fit_loop.setup_data()
            batches = trainer.num_training_batches
        accumulate = trainer.accumulate_grad_batches
        if not isinstance(accumulate, int):
            raise DurationError(f"accumulate_grad_batches={accumulate!r} must be one integer for the whole run")
        run = cls.from_counts(batches, accumulate, trainer.max_steps, trainer.max_epochs)
        if run.total_steps is None and estimated != math.inf and estimated > 0:
            return cls(total_steps=int(estimated), steps_per_epoch=run.steps_per_epoch)
        return run

    @classmethod
    def from_counts(cls, batches: float, accumulate: int, max_steps: int | None, max_epochs: int | None) -> Run:
        """The run of ``batches`` training batches per epoch (per process), as Lightning steps it.

        One optimizer step per ``accumulate`` batches plus one for a last partial window of each epoch; the
        run ends at ``max_steps`` or after ``max_epochs`` epochs, whichever is first (``None``/-1: no limit).

        Example::

            >>> Run.from_counts(batches=10, accumulate=3, max_steps=-1, max_epochs=2)
            Run(total_steps=8, steps_per_epoch=4)
        """
        per_epoch = None if batches == math.inf else max(math.ceil(batches / accumulate), 1)
        totals = []
        if max_steps is not None and max_steps != -1:
            totals.append(int(max_steps))
        if per_epoch is not None and max_epochs is not None and max_epochs != -1:
            totals.append(per_epoch * max(int(max_epochs), 1))
        return cls(total_steps=min(totals) if totals else None, steps_per_epoch=per_epoch)
