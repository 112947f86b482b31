"""CIFAR ResNet-18: the ImageNet ResNet-18 (He et al., 2016) adapted to 32×32 inputs.

The adaptation is the widely used one from kuangliu/pytorch-cifar: a 3×3 stride-1 stem conv and no
max-pool, so the four stages see 32, 16, 8 and 4 pixel feature maps. 11.17M parameters. The residual
block is the CIFAR ResNets' with shortcut option B (a 1×1 conv-BN projection where the shape changes).

Example::

    >>> import torch
    >>> ResNet18()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lr_recipes.pack.models.cifar_resnet import Block


class ResNet18(nn.Module):
    """ResNet-18 for CIFAR: 3×3 stem, residual stages of [2, 2, 2, 2] blocks at 64/128/256/512 channels.

    Args:
        num_classes: Size of the output layer.

    Example::

        >>> model = ResNet18(num_classes=100)
        >>> model(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 100])
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        stages, in_planes = [], 64
        for planes, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            stages += [Block(in_planes, planes, stride, shortcut="B"), Block(planes, planes, shortcut="B")]
            in_planes = planes
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(512, num_classes)

    def layer_groups(self) -> list[list[str]]:
        """The stem, the four stages (two blocks each) and the classifier, in order.

        For layer-wise LR decay (``layer_decay``): a list of layers from the input to the output, each a list
        of module names; the LR of layer ``i`` of ``L`` is multiplied by ``layer_decay ** (L - 1 - i)``.

        Example::

            >>> len(ResNet18().layer_groups())
            6
        """
        return [["stem"], *[[f"layers.{2 * s}", f"layers.{2 * s + 1}"] for s in range(4)], ["fc"]]

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
