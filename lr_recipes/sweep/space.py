"""Search spaces for ``python -m lr_recipes sweep``: YAML over config keys, with conditional parameters.

A space maps dotted config keys (as on the ``fit`` command line) to what a trial may try::

    model.schedule.name: [cosine, onecycle, wsd, multistep]         # choices
    model.optimizer.init_args.lr: {low: 0.01, high: 1.0, log: true}  # a float range (ints give an int range)
    model.schedule.decay: {choices: ["10%", "20%"], when: {model.schedule.name: wsd}}
    model.schedule.gamma: {low: 0.1, high: 0.5, when: {model.schedule.name: [step, multistep]}}
    model.schedule.milestones: {value: ["50%", "75%"], when: {model.schedule.name: multistep}}
    trainer.max_epochs: 3                                            # a fixed value

``when`` makes a parameter exist only while an earlier choice parameter has one of the listed values (several
keys in ``when`` must all match). ``value`` (or a bare scalar) fixes a key without searching it.

Keys under ``model.schedule`` build the schedule spec: when a trial picks another ``name`` than the recipe's,
the recipe's own schedule parameters that the chosen schedule also takes (``warmup``, say) are kept, the
others dropped, so every schedule runs at the same budget and warmup.

Example::

    >>> space = SearchSpace.from_dict({"model.schedule.name": ["cosine", "step"],
    ...                                "model.schedule.gamma": {"low": 0.1, "high": 0.5,
    ...                                                         "when": {"model.schedule.name": "step"}}})
    >>> [p.key for p in space.params]
    ['model.schedule.name', 'model.schedule.gamma']
    >>> space.params[1].active({"model.schedule.name": "cosine"})
    False
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lr_recipes.registry import RecipeError, available, check_spec, get_recipe

SCHEDULE_KEY = "model.schedule"
"""The config key of the schedule spec (``RecipeModule``'s ``schedule`` under LightningCLI's ``model``)."""

_SPEC_KEYS = ("choices", "low", "high", "log", "step", "value", "when")
_MISSING = object()


class SweepSpaceError(ValueError):
    """A search space that cannot be swept: an unknown key, a bad range, a value the recipe rejects.

    Example::

        >>> SearchSpace.from_dict({"model.optimizer.init_args.lr": {"low": 1.0, "high": 0.1}})
        Traceback (most recent call last):
        ...
        lr_recipes.sweep.space.SweepSpaceError: model.optimizer.init_args.lr: low=1.0 must be below high=0.1
    """


class Suggester(Protocol):
    """What :meth:`SearchSpace.suggest` needs of a trial: ``optuna.Trial``'s three ``suggest_*`` methods."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_primitive(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) config key.

    Exactly one of ``choices`` (a categorical), ``low``/``high`` (a range; ints give an int range) or ``value``
    (fixed) is set. ``when`` maps earlier choice keys to the values under which this key exists.

    Example::

        >>> Param("model.optimizer.init_args.lr", low=0.01, high=1.0, log=True).probe_values()
        [0.01, 1.0]
    """

    key: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    value: Any = _MISSING
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def fixed(self) -> bool:
        """Whether the key takes one value (nothing to search).

        Example::

            >>> Param("trainer.max_epochs", value=3).fixed
            True
        """
        return self.value is not _MISSING

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether this key exists given the values chosen so far (its ``when`` holds).

        Example::

            >>> p = Param("model.schedule.gamma", low=0.1, high=0.5, when={"model.schedule.name": ("step",)})
            >>> p.active({"model.schedule.name": "step"}), p.active({"model.schedule.name": "cosine"})
            (True, False)
        """
        return all(k in values and values[k] in allowed for k, allowed in self.when.items())

    def probe_values(self) -> list[Any]:
        """The values to check before any trial runs: every choice, both ends of a range, the fixed value.

        Example::

            >>> Param("model.schedule.name", choices=("cosine", "wsd")).probe_values()
            ['cosine', 'wsd']
        """
        if self.fixed:
            return [self.value]
        if self.choices is not None:
            return list(self.choices)
        return [self.low, self.high]

    def suggest(self, trial: Suggester) -> Any:
        """This key's value for ``trial`` (an ``optuna.Trial``); list or dict choices go through JSON labels.

        Example::

            >>> import optuna
            >>> trial = optuna.create_study().ask()
            >>> Param("model.schedule.milestones", choices=(["50%"], ["30%", "60%"])).suggest(trial) in (
            ...     ["50%"], ["30%", "60%"])
            True
        """
        if self.fixed:
            return self.value
        if self.choices is not None:
            if all(_is_primitive(c) for c in self.choices):
                return trial.suggest_categorical(self.key, list(self.choices))
            label = trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices])
            return json.loads(label)
        assert self.low is not None and self.high is not None
        if isinstance(self.low, int) and isinstance(self.high, int) and not isinstance(self.step, float):
            return trial.suggest_int(self.key, self.low, self.high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def describe(self) -> str:
        """A short human form: ``[cosine, wsd]``, ``0.01..1 (log)``, ``= 3``, plus the condition.

        Example::

            >>> Param("model.optimizer.init_args.lr", low=0.01, high=1.0, log=True).describe()
            '0.01..1 (log)'
        """
        if self.fixed:
            text = f"= {self.value}"
        elif self.choices is not None:
            text = "[" + ", ".join(str(c) for c in self.choices) + "]"
        else:
            text = (
                f"{self.low:g}..{self.high:g}"
                + (" (log)" if self.log else "")
                + (f" step {self.step:g}" if self.step else "")
            )
        if self.when:
            text += " when " + ", ".join(f"{k} in [{', '.join(map(str, v))}]" for k, v in self.when.items())
        return text


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of :class:`Param`; conditions refer to earlier keys only.

    Example::

        >>> space = SearchSpace.from_dict({"model.schedule.name": ["cosine", "wsd"], "trainer.max_epochs": 2})
        >>> import optuna
        >>> space.suggest(optuna.create_study().ask())["trainer.max_epochs"]
        2
    """

    params: tuple[Param, ...]

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        """Read a space file (see the module docstring for the syntax).

        Raises:
            SweepSpaceError: for a missing file, bad YAML or any mistake :meth:`from_dict` finds.

        Example::

            >>> SearchSpace.from_yaml("sweeps/schedules.yaml").params[0].key  # doctest: +SKIP
            'model.schedule.name'
        """
        import yaml

        path = Path(path)
        if not path.is_file():
            raise SweepSpaceError(f"search space {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise SweepSpaceError(f"search space {str(path)!r} is not valid YAML: {err}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "search space") -> SearchSpace:
        """Parse ``{key: spec}``; check every spec's form, range and condition.

        Raises:
            SweepSpaceError: naming the key, the bad value and what is allowed.

        Example::

            >>> SearchSpace.from_dict({"model.schedule.gamma": {"lo": 0.1, "high": 0.5}})
            Traceback (most recent call last):
            ...
            lr_recipes.sweep.space.SweepSpaceError: model.schedule.gamma: unknown field 'lo' (did you mean 'low'?); ...
        """
        if not isinstance(data, Mapping) or not data:
            raise SweepSpaceError(
                f"{source}: expected a mapping of config keys to choices or ranges, e.g. "
                "'model.optimizer.init_args.lr: {low: 0.01, high: 1.0, log: true}'; got " + repr(data)
            )
        params: list[Param] = []
        for key, spec in data.items():
            if not isinstance(key, str) or not key or key.startswith(".") or key.endswith("."):
                raise SweepSpaceError(f"{source}: {key!r} is not a dotted config key like 'model.schedule.name'")
            if key == SCHEDULE_KEY:
                raise SweepSpaceError(
                    f"{source}: search {SCHEDULE_KEY}.name and {SCHEDULE_KEY}.<parameter> (with 'when' for the "
                    f"parameters of one schedule), not {SCHEDULE_KEY} as a whole"
                )
            params.append(_parse_param(key, spec, params))
        return cls(tuple(params))

    @property
    def keys(self) -> list[str]:
        """Every key of the space, in order.

        Example::

            >>> SearchSpace.from_dict({"trainer.max_epochs": 2}).keys
            ['trainer.max_epochs']
        """
        return [p.key for p in self.params]

    def suggest(self, trial: Suggester) -> dict[str, Any]:
        """The values of one trial: every active key, in order (inactive conditional keys are left out).

        Example::

            >>> import optuna
            >>> space = SearchSpace.from_dict({"model.schedule.name": ["step"],
            ...                                "model.schedule.gamma": {"value": 0.5,
            ...                                                         "when": {"model.schedule.name": "step"}},
            ...                                "model.schedule.warmup": {"value": "1ep",
            ...                                                          "when": {"model.schedule.name": "wsd"}}})
            Traceback (most recent call last):
            ...
            lr_recipes.sweep.space.SweepSpaceError: model.schedule.warmup: when model.schedule.name='wsd' ...
            >>> space = SearchSpace.from_dict({"model.schedule.name": ["step"],
            ...                                "model.schedule.gamma": {"value": 0.5,
            ...                                                         "when": {"model.schedule.name": "step"}}})
            >>> space.suggest(optuna.create_study().ask())
            {'model.schedule.name': 'step', 'model.schedule.gamma': 0.5}
        """
        values: dict[str, Any] = {}
        for p in self.params:
            if p.active(values):
                values[p.key] = p.suggest(trial)
        return values

    def schedule_names(self, base_name: str) -> list[str]:
        """The schedule names trials can use: the choices of ``model.schedule.name``, else the recipe's.

        Example::

            >>> SearchSpace.from_dict({"trainer.max_epochs": 2}).schedule_names("cosine")
            ['cosine']
        """
        for p in self.params:
            if p.key == f"{SCHEDULE_KEY}.name":
                return [str(v) for v in p.probe_values()]
        return [base_name]

    def check_schedules(self, base: str | Mapping[str, Any]) -> list[dict[str, Any]]:
        """Check every schedule value against its recipe, before any trial runs; return the specs checked.

        For each schedule name a trial can pick, every value of every schedule key active under it is put
        into that schedule's spec (one at a time, the other keys at their first value) and checked with
        :func:`lr_recipes.check_spec` (names, types, duration units).

        Raises:
            SweepSpaceError: for a key the schedule does not take or a value it rejects.

        Example::

            >>> space = SearchSpace.from_dict({"model.schedule.name": ["cosine", "step"],
            ...                                "model.schedule.gamma": {"low": 0.1, "high": 0.5}})
            >>> space.check_schedules({"name": "cosine"})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            lr_recipes.sweep.space.SweepSpaceError: model.schedule.gamma: schedule 'cosine' has no parameter ...
        """
        base_spec = check_spec(base)
        checked: list[dict[str, Any]] = []
        name_key = f"{SCHEDULE_KEY}.name"
        for name in self.schedule_names(base_spec["name"]):
            if name not in available():
                raise SweepSpaceError(
                    f"{name_key}: {name!r} is not a recipe{_closest(name, available())}; "
                    f"available: {', '.join(available())}"
                )
            chosen = {name_key: name}
            active = [p for p in self.params if p.key.startswith(SCHEDULE_KEY + ".") and p.key != name_key]
            active = [p for p in active if p.active({**chosen, **self._first_values()})]
            for p in active:
                param = p.key[len(SCHEDULE_KEY) + 1 :]
                if param not in get_recipe(name).params:
                    takers = [n for n in self.schedule_names(base_spec["name"]) if param in get_recipe(n).params]
                    fix = f"; add 'when: {{{name_key}: [{', '.join(takers)}]}}'" if takers else ""
                    raise SweepSpaceError(
                        f"{p.key}: schedule {name!r} has no parameter {param!r}"
                        f"{_closest(param, ['name', *get_recipe(name).params])}{fix}; "
                        f"{name}'s parameters: name, {', '.join(get_recipe(name).params)}"
                    )
            first = {p.key: p.probe_values()[0] for p in active}
            for p in active or [None]:
                for value in p.probe_values() if p is not None else [None]:
                    values = {**chosen, **first, **({p.key: value} if p is not None else {})}
                    try:
                        checked.append(schedule_spec(values, base_spec))
                    except RecipeError as err:
                        where = p.key if p is not None else name_key
                        shown = value if p is not None else name
                        raise SweepSpaceError(f"{where}: {err} (value {shown!r} with {name_key}={name!r})") from None
        return checked

    def _first_values(self) -> dict[str, Any]:
        return {p.key: p.probe_values()[0] for p in self.params if p.key != f"{SCHEDULE_KEY}.name"}


def _parse_param(key: str, spec: Any, earlier: Sequence[Param]) -> Param:
    if isinstance(spec, list):
        spec = {"choices": spec}
    elif not isinstance(spec, Mapping):
        spec = {"value": spec}
    unknown = [k for k in spec if k not in _SPEC_KEYS]
    if unknown:
        raise SweepSpaceError(
            f"{key}: unknown field {unknown[0]!r}{_closest(str(unknown[0]), _SPEC_KEYS)}; "
            f"allowed: {', '.join(_SPEC_KEYS)}"
        )
    kinds = [k for k in ("choices", "value") if k in spec] + (["low/high"] if "low" in spec or "high" in spec else [])
    if len(kinds) != 1:
        raise SweepSpaceError(
            f"{key}: give exactly one of 'choices: [...]', 'low: ... high: ...' or 'value: ...'; got {dict(spec)}"
        )
    when = _parse_when(key, spec.get("when", {}), earlier)
    if "value" in spec:
        return Param(key, value=spec["value"], when=when)
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SweepSpaceError(f"{key}: choices={choices!r} must be a non-empty list")
        if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
            raise SweepSpaceError(f"{key}: choices={choices!r} repeat a value")
        return Param(key, choices=tuple(choices), when=when)
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for name, x in (("low", low), ("high", high)):
        if not _is_number(x) or not math.isfinite(x):
            raise SweepSpaceError(f"{key}: {name}={x!r} must be a finite number (a range needs both low and high)")
    if not low < high:
        raise SweepSpaceError(f"{key}: low={low!r} must be below high={high!r}")
    if not isinstance(log, bool):
        raise SweepSpaceError(f"{key}: log={log!r} must be true or false")
    if log and low <= 0:
        raise SweepSpaceError(f"{key}: log=true needs low > 0; got low={low!r}")
    if step is not None and (not _is_number(step) or step <= 0 or log):
        raise SweepSpaceError(f"{key}: step={step!r} must be a positive number, and cannot go with log=true")
    return Param(key, low=low, high=high, log=log, step=step, when=when)


def _parse_when(key: str, when: Any, earlier: Sequence[Param]) -> dict[str, tuple[Any, ...]]:
    if not isinstance(when, Mapping):
        raise SweepSpaceError(
            f"{key}: when={when!r} must map earlier keys to values, e.g. when: {{{SCHEDULE_KEY}.name: [step]}}"
        )
    by_key = {p.key: p for p in earlier}
    out: dict[str, tuple[Any, ...]] = {}
    for cond, allowed in when.items():
        parent = by_key.get(cond)
        if parent is None or (parent.choices is None and not parent.fixed):
            choice_keys = [p.key for p in earlier if p.choices is not None]
            raise SweepSpaceError(
                f"{key}: when refers to {cond!r}, which is not a choice key above it"
                f"{_closest(str(cond), choice_keys)}; "
                f"choice keys above: {', '.join(choice_keys) or 'none'}"
            )
        allowed = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        possible = parent.probe_values()
        bad = [v for v in allowed if v not in possible]
        if bad:
            raise SweepSpaceError(
                f"{key}: when {cond}={bad[0]!r} can never hold{_closest(str(bad[0]), map(str, possible))}; "
                f"{cond} takes {', '.join(map(str, possible))}"
            )
        out[cond] = allowed
    return out


def _closest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def closest_key(key: str, keys: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``keys``, comparing the last part first; else ``""``.

    Example::

        >>> closest_key("model.optimizer.init_args.weight_decy", ["model.optimizer.init_args.weight_decay"])
        " (did you mean 'model.optimizer.init_args.weight_decay'?)"
    """
    keys = list(keys)
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if not close:
        leaf = key.rsplit(".", 1)[-1]
        by_leaf = {k.rsplit(".", 1)[-1]: k for k in keys}
        near = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.6)
        close = [by_leaf[near[0]]] if near else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def schedule_spec(values: Mapping[str, Any], base: str | Mapping[str, Any]) -> dict[str, Any]:
    """The schedule spec of a trial: the recipe's ``base`` spec with the trial's ``model.schedule.*`` values.

    A new ``name`` keeps the base parameters the new schedule also takes and drops the others.

    Raises:
        RecipeError: for a parameter the schedule does not take or a value it rejects.

    Example::

        >>> schedule_spec({"model.schedule.name": "cosine", "model.schedule.min_lr_ratio": 0.01},
        ...               {"name": "step", "warmup": "2ep", "step_size": "3ep"})
        {'name': 'cosine', 'warmup': '2ep', 'min_lr_ratio': 0.01}
    """
    spec = check_spec(base)
    prefix = SCHEDULE_KEY + "."
    name = values.get(prefix + "name", spec["name"])
    if name != spec["name"]:
        accepted = get_recipe(name).params
        spec = {"name": name, **{k: v for k, v in spec.items() if k != "name" and k in accepted}}
    spec.update({k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix) and k != prefix + "name"})
    return check_spec(spec)


def nested(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys to nested dicts, for a YAML overlay: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``.

    Example::

        >>> nested({"model.optimizer.init_args.lr": 0.1, "trainer.max_epochs": 3})
        {'model': {'optimizer': {'init_args': {'lr': 0.1}}}, 'trainer': {'max_epochs': 3}}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def trial_config(values: Mapping[str, Any], base_schedule: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The flat config of a trial: its values, with ``model.schedule.*`` folded into one ``model.schedule`` spec.

    ``base_schedule`` is the recipe's schedule spec; ``None`` when the config has no schedule (then the space
    must not touch ``model.schedule``).

    Example::

        >>> trial_config({"model.schedule.name": "step", "model.schedule.step_size": "1ep", "trainer.max_epochs": 3},
        ...              {"name": "cosine"})
        {'trainer.max_epochs': 3, 'model.schedule': {'name': 'step', 'step_size': '1ep'}}
    """
    prefix = SCHEDULE_KEY + "."
    flat = {k: v for k, v in values.items() if not k.startswith(prefix)}
    if any(k.startswith(prefix) for k in values):
        if base_schedule is None:
            raise SweepSpaceError(f"the space sets {prefix}* but the config has no {SCHEDULE_KEY}")
        flat[SCHEDULE_KEY] = schedule_spec(values, base_schedule)
    return flat


def check_keys(space: SearchSpace, known: Callable[[str], bool], all_keys: Sequence[str]) -> None:
    """Check that every key outside ``model.schedule`` names a config key (``known(key)``).

    Raises:
        SweepSpaceError: with the closest key of ``all_keys``.

    Example::

        >>> check_keys(SearchSpace.from_dict({"trainer.max_epoch": 3}), lambda k: k == "trainer.max_epochs",
        ...            ["trainer.max_epochs"])
        Traceback (most recent call last):
        ...
        lr_recipes.sweep.space.SweepSpaceError: trainer.max_epoch is not a config key (did you mean ...?)
    """
    for p in space.params:
        if p.key.startswith(SCHEDULE_KEY + ".") or p.key == SCHEDULE_KEY:
            continue
        if not known(p.key):
            raise SweepSpaceError(f"{p.key} is not a config key{closest_key(p.key, all_keys)}")


__all__ = [
    "SCHEDULE_KEY",
    "Param",
    "SearchSpace",
    "SweepSpaceError",
    "check_keys",
    "closest_key",
    "nested",
    "schedule_spec",
    "trial_config",
]
