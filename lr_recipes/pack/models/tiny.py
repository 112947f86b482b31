"""A two-conv network for tests and smoke runs: a forward + backward of 128 images takes milliseconds.

Example::

    >>> import torch
    >>> TinyNet()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from torch import Tensor, nn


class TinyNet(nn.Module):
    """conv 16 → pool → conv 32 → global average pool → linear (5.5k parameters).

    Args:
        num_classes: Size of the output layer.
        width: Channels of the first conv; the second has twice as many.

    Example::

        >>> sum(p.numel() for p in TinyNet().parameters())
        5466
    """

    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
