"""The CIFAR-10 ResNets of He et al., "Deep Residual Learning for Image Recognition" (2016), §4.2.

A depth ``6n + 2`` network: a 3×3 conv to 16 channels, three stages of ``n`` basic blocks at 16, 32 and
64 channels (feature maps 32, 16 and 8 pixels), global average pooling and a linear layer.
resnet20/32/44/56/110 are ``n`` = 3/5/7/9/18 (0.27M/0.46M/0.66M/0.85M/1.7M parameters with shortcut A).

The paper's CIFAR models use shortcut option A, which we take as the default: where a block halves the
resolution and doubles the width, the identity shortcut subsamples by 2 and zero-pads the new channels,
adding no parameters. Option B projects with a 1×1 conv + BN on those blocks instead (the paper's
ImageNet choice), which adds a few thousand parameters.

Example::

    >>> import torch
    >>> CifarResNet(depth=20)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Shortcut = Literal["A", "B"]


class PadShortcut(nn.Module):
    """Option A shortcut: keep every second pixel and zero-pad the channels up to ``planes``.

    Args:
        in_planes: Input channels.
        planes: Output channels; the difference is split evenly before and after the input channels.

    Example::

        >>> PadShortcut(16, 32)(torch.ones(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, in_planes: int, planes: int) -> None:
        super().__init__()
        self.pad = (planes - in_planes) // 2
        self.extra = planes - in_planes - self.pad

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.extra))


class Block(nn.Module):
    """Basic residual block (two 3×3 conv-BN layers) with an option A or B shortcut on downsampling.

    Args:
        in_planes: Input channels.
        planes: Output channels.
        stride: Stride of the first conv (2 halves the resolution).
        shortcut: ``"A"`` (parameter-free subsample + zero-pad) or ``"B"`` (1×1 conv + BN projection).

    Example::

        >>> Block(16, 32, stride=2, shortcut="B")(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: Shortcut = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.shortcut = PadShortcut(in_planes, planes)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s ``6n + 2``-layer CIFAR ResNet (16/32/64 channels), shortcut option A by default.

    Args:
        depth: Number of weighted layers; must be ``6n + 2`` (20, 32, 44, 56, 110, ...).
        num_classes: Size of the output layer.
        shortcut: ``"A"`` (the paper's CIFAR choice: subsample + zero-pad, no parameters) or ``"B"``
            (1×1 conv + BN projection where the shape changes).

    Raises:
        ValueError: If ``depth`` is not ``6n + 2`` or ``shortcut`` is not ``"A"``/``"B"``.

    Example::

        >>> model = CifarResNet(depth=56, shortcut="B")
        >>> model(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, depth: int, num_classes: int = 10, shortcut: Shortcut = "A") -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f'shortcut must be "A" or "B", got {shortcut!r}')
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, in_planes = [], 16
        for planes, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(n):
                blocks.append(Block(in_planes, planes, stride if i == 0 else 1, shortcut))
                in_planes = planes
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        # The paper initialises with He et al. (2015) fan-out normal init; PyTorch's default differs.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def layer_groups(self) -> list[list[str]]:
        """The stem, the three stages (``n`` blocks each) and the classifier, in order.

        For layer-wise LR decay (``layer_decay``): a list of layers from the input to the output, each a list
        of module names; the LR of layer ``i`` of ``L`` is multiplied by ``layer_decay ** (L - 1 - i)``.

        Example::

            >>> CifarResNet(depth=20).layer_groups()[1]
            ['layers.0', 'layers.1', 'layers.2']
        """
        n = len(self.layers) // 3
        stages = [[f"layers.{i}" for i in range(s * n, (s + 1) * n)] for s in range(3)]
        return [["stem"], *stages, ["fc"]]

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
