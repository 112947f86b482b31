"""ResNet-9: David Page's DAWNBench CIFAR-10 network ("How to train your ResNet", Myrtle.ai, 2018).

prep conv 64 → layer1 conv 128 + pool + residual(2 × conv 128) → layer2 conv 256 + pool → layer3 conv
512 + pool + residual(2 × conv 512) → global max-pool → linear, its output scaled by 0.125. Every conv
is 3×3 conv → BN → ReLU. 6.57M parameters; 94% test accuracy in 24 epochs in Page's runs.

Example::

    >>> import torch
    >>> ResNet9()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    """3×3 conv → BN → ReLU, optionally followed by a 2×2 max-pool.

    Example::

        >>> conv_bn(3, 64, pool=True)(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 64, 16, 16])
    """
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """``x + f(x)`` with ``f`` two conv-BN-ReLU layers of the same width.

    Args:
        channels: Input and output channels.

    Example::

        >>> Residual(8)(torch.zeros(1, 8, 4, 4)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.f = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.f(x)


class ResNet9(nn.Module):
    """Page's ResNet-9 with the 0.125 logit scale that lets it train at high learning rates.

    Args:
        num_classes: Size of the output layer.
        scale: Multiplier on the logits (Page: 0.125).

    Example::

        >>> ResNet9(num_classes=100)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 100])
    """

    def __init__(self, num_classes: int = 10, scale: float = 0.125) -> None:
        super().__init__()
        self.scale = scale
        self.features = nn.Sequential(
            conv_bn(3, 64),
            conv_bn(64, 128, pool=True),
            Residual(128),
            conv_bn(128, 256, pool=True),
            conv_bn(256, 512, pool=True),
            Residual(512),
            nn.AdaptiveMaxPool2d(1),
        )
        self.fc = nn.Linear(512, num_classes, bias=False)

    def layer_groups(self) -> list[list[str]]:
        """prep, layer1 (conv + residual), layer2, layer3 (conv + residual) and the classifier.

        For layer-wise LR decay (``layer_decay``): a list of layers from the input to the output, each a list
        of module names; the LR of layer ``i`` of ``L`` is multiplied by ``layer_decay ** (L - 1 - i)``.

        Example::

            >>> ResNet9().layer_groups()[1]
            ['features.1', 'features.2']
        """
        return [["features.0"], ["features.1", "features.2"], ["features.3"], ["features.4", "features.5"], ["fc"]]

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.features(x), 1)) * self.scale
