"""Param groups from config: rules matched against parameter names, and layer-wise LR decay.

A rule picks parameters by name (``match``: a glob over the whole name, or ``regex``: a regular expression
found anywhere in the name) and/or by shape (``max_ndim: 1``: biases and norm scales), and gives them a
``name`` (the LR keys become ``lr-SGD/<name>``), an ``lr_mult`` (times the optimizer's ``lr``) and/or a
``weight_decay``. Rules are tried in order and **the first matching rule wins**; parameters no rule matches
form the ``default`` group, with the optimizer's own settings. Frozen parameters (``requires_grad=False``)
are never put in a group.

Refused before training, with a message that names the rule (:class:`ParamGroupError`):

- a rule that matches no parameter (the message shows the closest module names);
- a rule left empty: every parameter it matches is claimed by an earlier rule;
- a rule that matches frozen parameters (unless it says ``skip_frozen: true``);
- an **ambiguous overlap**: a parameter that a later rule also matches, where the later rule sets a value
  (``lr_mult`` or ``weight_decay``) that the winning rule leaves unset. The parameter would silently get
  the optimizer's default for it, not the later rule's value. An overlap where the winner sets everything
  the later rule sets is a deliberate override (a specific rule before a general one) and is allowed.

**Layer-wise LR decay** (``layer_decay``, as in BEiT and timm's ``--layer-decay``) needs the model's layers
in order, from the input to the output: a list of layers, each a list of module-name prefixes. With ``L``
layers, a parameter in layer ``i`` (0 = the input side) is at depth ``L - 1 - i`` from the top, and its LR
is multiplied by ``layer_decay ** depth``, on top of its rule's ``lr_mult``: the head keeps the full LR,
the stem gets ``layer_decay ** (L - 1)``. Every group is split by layer (``<name>/layer<i>``), and every
trainable parameter must be in exactly one layer.

Example::

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    >>> rules = [ParamGroupRule(name="head", match="2.*", lr_mult=10.0, weight_decay=0.0),
    ...          ParamGroupRule(name="no_decay", max_ndim=1, weight_decay=0.0)]
    >>> [(g.name, len(g.params), g.lr_mult, g.weight_decay) for g in resolve(net.named_parameters(), rules)]
    [('head', 2, 10.0, 0.0), ('no_decay', 3, None, 0.0), ('default', 1, None, None)]

    Without ``weight_decay`` on ``head``, the head's bias (also 1-D) would be ambiguous::

        >>> head = ParamGroupRule(name="head", match="2.*", lr_mult=10.0)
        >>> resolve(net.named_parameters(), [head, rules[1]])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lr_recipes.param_groups.ParamGroupError: parameter '2.bias' is matched by param_groups[0] 'head' ...
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from lr_recipes.registry import RecipeError

DEFAULT_GROUP = "default"
"""The name of the group of parameters that no rule matches."""


class ParamGroupError(RecipeError):
    """A ``param_groups`` rule or ``layer_decay`` that cannot be applied (raised before training).

    Example::

        >>> isinstance(ParamGroupError("x"), ValueError)
        True
    """


@dataclass(frozen=True)
class ParamGroupRule:
    """One rule of ``param_groups``: which parameters, and what they get.

    Args:
        name: the group's name, used in the LR keys (``lr-SGD/<name>``) and the printed table.
        match: a glob matched against the whole parameter name (``fnmatch``: ``*`` also crosses dots),
            e.g. ``"model.layers.*"``.
        regex: instead of ``match``, a regular expression searched for in the name (anchor it with
            ``^``/``$``), e.g. ``"\\.bn\\d\\."``.
        max_ndim: only parameters with at most this many dimensions (``1``: biases and norm scales);
            alone, or narrowing ``match``/``regex``.
        lr_mult: the group's LR is the optimizer's ``lr`` times this (``None``: 1).
        weight_decay: the group's weight decay (``None``: the optimizer's).
        skip_frozen: leave frozen parameters the rule matches out, instead of refusing them.

    Raises:
        ParamGroupError: for a rule with no selector, both ``match`` and ``regex``, a bad regex or a
            negative, non-finite value.

    Example::

        >>> ParamGroupRule(name="backbone", match="model.layers.*", lr_mult=0.1).describe()
        "match 'model.layers.*'"
    """

    name: str
    match: str | None = None
    regex: str | None = None
    max_ndim: int | None = None
    lr_mult: float | None = None
    weight_decay: float | None = None
    skip_frozen: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"param group rule {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ParamGroupError(f"param group rule name={self.name!r}: give a non-empty string, e.g. 'backbone'")
        if self.name == DEFAULT_GROUP:
            raise ParamGroupError(f"{where}: the name {DEFAULT_GROUP!r} is the group of unmatched parameters")
        if self.match is not None and self.regex is not None:
            raise ParamGroupError(f"{where} has both match and regex; give one")
        if self.match is None and self.regex is None and self.max_ndim is None:
            raise ParamGroupError(f"{where} selects nothing; give match (a glob), regex or max_ndim")
        if self.regex is not None:
            try:
                object.__setattr__(self, "_pattern", re.compile(self.regex))
            except re.error as err:
                raise ParamGroupError(f"{where}: regex={self.regex!r} is not a regular expression: {err}") from None
        if self.max_ndim is not None and (isinstance(self.max_ndim, bool) or not isinstance(self.max_ndim, int)):
            raise ParamGroupError(f"{where}: max_ndim={self.max_ndim!r} must be an integer, e.g. 1")
        for key in ("lr_mult", "weight_decay"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ParamGroupError(f"{where}: {key}={value!r} must be a number")
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ParamGroupError(f"{where}: {key}={value!r} must be finite and >= 0")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | ParamGroupRule, index: int = 0) -> ParamGroupRule:
        """A rule from its YAML mapping; unknown keys are refused with the closest valid one.

        Example::

            >>> ParamGroupRule.from_config({"name": "head", "match": "fc.*", "lr_mult": 10}).lr_mult
            10
            >>> ParamGroupRule.from_config({"name": "head", "match": "fc.*", "lr_mul": 10})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            lr_recipes.param_groups.ParamGroupError: param_groups[0]: unknown key 'lr_mul' (did you mean 'lr_mult'?)...
        """
        if isinstance(config, ParamGroupRule):
            return config
        if not isinstance(config, Mapping):
            raise ParamGroupError(
                f"param_groups[{index}]={config!r} must be a mapping, e.g. {{name: backbone, match: 'model.layers.*',"
                " lr_mult: 0.1}"
            )
        allowed = [f.name for f in fields(cls) if f.init]
        for key in config:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ParamGroupError(
                    f"param_groups[{index}]: unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"
                )
        if "name" not in config:
            raise ParamGroupError(f"param_groups[{index}] has no name; every rule names its group")
        return cls(**config)

    def selects(self, name: str, param: torch.Tensor) -> bool:
        """Whether this rule matches the parameter ``name``.

        Example::

            >>> ParamGroupRule(name="b", regex=r"\\.bias$").selects("fc.bias", torch.zeros(2))
            True
        """
        if self.max_ndim is not None and param.ndim > self.max_ndim:
            return False
        if self.match is not None:
            return fnmatch.fnmatchcase(name, self.match)
        if self._pattern is not None:
            return self._pattern.search(name) is not None
        return True

    def describe(self) -> str:
        """The selector, as written: ``match '...'``, ``regex '...'``, ``max_ndim 1`` or a combination.

        Example::

            >>> ParamGroupRule(name="nd", max_ndim=1).describe()
            'max_ndim 1'
        """
        parts = []
        if self.match is not None:
            parts.append(f"match {self.match!r}")
        if self.regex is not None:
            parts.append(f"regex {self.regex!r}")
        if self.max_ndim is not None:
            parts.append(f"max_ndim {self.max_ndim}")
        return ", ".join(parts)

    def sets(self) -> dict[str, float]:
        """The values this rule sets (``lr_mult`` and/or ``weight_decay``).

        Example::

            >>> ParamGroupRule(name="nd", max_ndim=1, weight_decay=0.0).sets()
            {'weight_decay': 0.0}
        """
        return {k: getattr(self, k) for k in ("lr_mult", "weight_decay") if getattr(self, k) is not None}


NO_DECAY_ON_NORM_AND_BIAS = ParamGroupRule(name="no_decay", max_ndim=1, weight_decay=0.0, skip_frozen=True)
"""The rule ``no_weight_decay_on_norm_and_bias: true`` adds after the others: 1-D parameters (biases, norm
scales and shifts) get weight decay 0; frozen ones are left out."""


@dataclass
class ResolvedGroup:
    """A param group as it goes to the optimizer: its name, parameters and settings.

    Example::

        >>> g = ResolvedGroup("head", ["fc.weight"], [torch.zeros(2, 2)], lr_mult=10.0)
        >>> sorted(g.to_torch())
        ['lr_mult', 'name', 'params']
    """

    name: str
    names: list[str]
    params: list[torch.Tensor]
    lr_mult: float | None = None
    weight_decay: float | None = None

    @property
    def lr_factor(self) -> float:
        """The factor on the optimizer's ``lr`` (1 when unset).

        Example::

            >>> ResolvedGroup("d", [], []).lr_factor
            1.0
        """
        return 1.0 if self.lr_mult is None else float(self.lr_mult)

    def to_torch(self) -> dict[str, Any]:
        """The ``torch.optim`` param group dict (``lr_mult`` kept as a key; the LR is multiplied later).

        Example::

            >>> ResolvedGroup("no_decay", ["b"], [torch.zeros(2)], weight_decay=0.0).to_torch()["weight_decay"]
            0.0
        """
        group: dict[str, Any] = {"params": self.params, "name": self.name, "lr_mult": self.lr_factor}
        if self.weight_decay is not None:
            group["weight_decay"] = self.weight_decay
        return group


def resolve(
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    rules: Sequence[ParamGroupRule],
    *,
    layers: Sequence[Sequence[str]] | None = None,
    layer_decay: float | None = None,
) -> list[ResolvedGroup]:
    """Apply ``rules`` (first match wins) and ``layer_decay`` over ``layers`` to the named parameters.

    Groups come in rule order, then ``default``; with ``layer_decay`` each is split by layer, from the
    input side up. Empty splits are left out; an empty ``default`` group is left out.

    Args:
        named_parameters: ``module.named_parameters()``.
        rules: the rules, in order.
        layers: the model's layers from input to output, each a list of module-name prefixes (needed with
            ``layer_decay``).
        layer_decay: the LR factor per layer of depth below the top, in (0, 1]; ``None`` for none.

    Raises:
        ParamGroupError: see the module docstring.

    Example::

        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        >>> groups = resolve(net.named_parameters(), [], layers=[["0"], ["1"], ["2"]], layer_decay=0.5)
        >>> [(g.name, g.lr_mult) for g in groups]
        [('default/layer0', 0.25), ('default/layer1', 0.5), ('default/layer2', 1.0)]
    """
    named = list(named_parameters)
    names = [n for n, _ in named]
    trainable = [(n, p) for n, p in named if p.requires_grad]
    claimed: dict[str, int] = {}  # parameter name -> index of the rule that won it
    members: list[list[tuple[str, torch.Tensor]]] = [[] for _ in rules]
    for i, rule in enumerate(rules):
        matched = [(n, p) for n, p in named if rule.selects(n, p)]
        label = f"param_groups[{i}] {rule.name!r} ({rule.describe()})"
        if not matched:
            raise ParamGroupError(f"{label} matches no parameter; {_name_hint(rule, names)}")
        frozen = [n for n, p in matched if not p.requires_grad]
        if frozen and not rule.skip_frozen:
            raise ParamGroupError(
                f"{label} matches {len(frozen)} frozen parameter(s) (requires_grad=False), which no optimizer "
                f"updates: {_few(frozen)}; narrow the rule, unfreeze them, or set skip_frozen: true"
            )
        for n, p in matched:
            if not p.requires_grad:
                continue
            if n in claimed:
                _check_overlap(n, rules[claimed[n]], claimed[n], rule, i)
                continue
            claimed[n] = i
            members[i].append((n, p))
        if not members[i]:
            why = "only frozen parameters" if len(frozen) == len(matched) else "only parameters earlier rules claim"
            raise ParamGroupError(
                f"{label} is empty: it matches {why} ({_few([n for n, _ in matched])}); the first matching rule "
                "wins, so move it before the rules that claim them, or drop it"
            )
    default = [(n, p) for n, p in trainable if n not in claimed]
    base: list[tuple[str, float | None, float | None, list[tuple[str, torch.Tensor]]]] = [
        (rule.name, rule.lr_mult, rule.weight_decay, m) for rule, m in zip(rules, members, strict=True)
    ]
    if default:
        base.append((DEFAULT_GROUP, None, None, default))
    if layer_decay is None:
        return [ResolvedGroup(name, [n for n, _ in m], [p for _, p in m], lr_mult, wd) for name, lr_mult, wd, m in base]
    return _split_by_layer(base, trainable, layers, layer_decay)


def _split_by_layer(
    base: list[tuple[str, float | None, float | None, list[tuple[str, torch.Tensor]]]],
    trainable: list[tuple[str, torch.Tensor]],
    layers: Sequence[Sequence[str]] | None,
    layer_decay: float,
) -> list[ResolvedGroup]:
    if isinstance(layer_decay, bool) or not isinstance(layer_decay, (int, float)) or not 0 < layer_decay <= 1:
        raise ParamGroupError(f"layer_decay={layer_decay!r} is not allowed; allowed: a number in (0, 1], e.g. 0.75")
    if not layers:
        raise ParamGroupError(
            "layer_decay needs the model's layers in order; this model has no layer_groups() "
            "(define it on the LightningModule: a list of layers from input to output, each a list of module names)"
        )
    layer_of: dict[str, int] = {}
    for n, _ in trainable:
        hits = [i for i, layer in enumerate(layers) if any(n == m or n.startswith(m + ".") for m in layer)]
        if len(hits) != 1:
            where = "no layer" if not hits else f"layers {hits}"
            raise ParamGroupError(
                f"layer_decay: parameter {n!r} is in {where} of layer_groups() (every trainable parameter must be "
                f"in exactly one); layers: {[list(layer) for layer in layers]}"
            )
        layer_of[n] = hits[0]
    top = len(layers) - 1
    out = []
    for name, lr_mult, wd, m in base:
        for i in range(len(layers)):
            split = [(n, p) for n, p in m if layer_of[n] == i]
            if split:
                mult = (1.0 if lr_mult is None else float(lr_mult)) * float(layer_decay) ** (top - i)
                out.append(ResolvedGroup(f"{name}/layer{i}", [n for n, _ in split], [p for _, p in split], mult, wd))
    return out


def _check_overlap(param: str, winner: ParamGroupRule, wi: int, later: ParamGroupRule, li: int) -> None:
    unset = {k: v for k, v in later.sets().items() if k not in winner.sets()}
    if not unset:
        return
    what = ", ".join(f"{k}={v}" for k, v in unset.items())
    raise ParamGroupError(
        f"parameter {param!r} is matched by param_groups[{wi}] {winner.name!r} ({winner.describe()}) and by "
        f"param_groups[{li}] {later.name!r} ({later.describe()}); the first matching rule wins, so it would get "
        f"the optimizer's default for {', '.join(unset)}, not {later.name!r}'s {what}. Say which: set "
        f"{', '.join(unset)} on {winner.name!r} too, or put a rule for these parameters before both "
        f"(e.g. with max_ndim: 1 to pick biases and norms)"
    )


def _name_hint(rule: ParamGroupRule, names: list[str]) -> str:
    modules = sorted({".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 1)})
    hint = f"parameter names look like {_few(names, 4)}"
    pattern = rule.match or rule.regex
    if pattern:
        close = difflib.get_close_matches(pattern, [m + ".*" for m in modules] + names, n=1, cutoff=0.5)
        if close:
            hint = f"closest: {close[0]!r}; " + hint
    return hint + (" (with match, * also crosses dots: 'model.layers.*')" if rule.match else "")


def _few(names: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(names[:k])
    return shown + (f", ... ({len(names)} in all)" if len(names) > k else "")


def format_groups(optimizer: torch.optim.Optimizer) -> str:
    """A table of the optimizer's param groups: name, parameters (tensors), LR and weight decay.

    Example::

        >>> opt = torch.optim.SGD([{"params": [torch.zeros(3, 2)], "name": "head"}], lr=0.1, weight_decay=1e-4)
        >>> print(format_groups(opt))
        param groups of SGD:
          name  parameters (tensors)  lr   weight_decay
          head  6 (1)                 0.1  0.0001
    """
    rows = [("name", "parameters (tensors)", "lr", "weight_decay")]
    for i, g in enumerate(optimizer.param_groups):
        count = sum(p.numel() for p in g["params"])
        rows.append(
            (
                str(g.get("name", f"pg{i + 1}")),
                f"{count:,} ({len(g['params'])})",
                f"{g['lr']:.4g}",
                f"{g.get('weight_decay', 0):.4g}",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = [f"param groups of {type(optimizer).__name__}:"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


__all__ = [
    "DEFAULT_GROUP",
    "NO_DECAY_ON_NORM_AND_BIAS",
    "ParamGroupError",
    "ParamGroupRule",
    "ResolvedGroup",
    "format_groups",
    "resolve",
]
