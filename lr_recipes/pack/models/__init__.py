"""CIFAR models by name: ``create_model("resnet20")``; ``available_models()`` lists the names.

=============  ======  ===============================================================
name           params  network
=============  ======  ===============================================================
resnet18       11.2M   ResNet-18 with a 3×3 stem, no max-pool (kuangliu/pytorch-cifar)
resnet20…110   0.27M+  He et al. (2016) 6n+2 CIFAR ResNets, shortcut ``"A"`` (or ``"B"``)
resnet9        6.6M    David Page's DAWNBench ResNet-9
tiny           5.5k    two convs, for tests and smoke runs
=============  ======  ===============================================================

Example::

    >>> import torch
    >>> model = create_model("resnet56", num_classes=10, shortcut="B")
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from lr_recipes.pack.models.cifar_resnet import CifarResNet
from lr_recipes.pack.models.resnet9 import ResNet9
from lr_recipes.pack.models.resnet18 import ResNet18
from lr_recipes.pack.models.tiny import TinyNet

__all__ = ["CifarResNet", "ResNet9", "ResNet18", "TinyNet", "available_models", "create_model"]

_MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": ResNet18,
    "resnet20": partial(CifarResNet, 20),
    "resnet32": partial(CifarResNet, 32),
    "resnet44": partial(CifarResNet, 44),
    "resnet56": partial(CifarResNet, 56),
    "resnet110": partial(CifarResNet, 110),
    "resnet9": ResNet9,
    "tiny": TinyNet,
}


def available_models() -> list[str]:
    """The names ``create_model`` accepts, sorted.

    Example::

        >>> available_models()[:3]
        ['resnet110', 'resnet18', 'resnet20']
    """
    return sorted(_MODELS)


def create_model(name: str, num_classes: int = 10, **kwargs: Any) -> nn.Module:
    """Build the model called ``name``; extra keyword arguments go to its constructor.

    Args:
        name: One of ``available_models()``.
        num_classes: Size of the output layer.
        **kwargs: Model options, e.g. ``shortcut="B"`` for the He et al. ResNets.

    Raises:
        ValueError: If ``name`` is unknown; the message lists the names and the closest match.

    Example::

        >>> type(create_model("resnet9")).__name__
        'ResNet9'
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}.{hint}")
    return _MODELS[name](num_classes=num_classes, **kwargs)
