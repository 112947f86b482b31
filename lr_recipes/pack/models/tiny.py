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

    def layer_groups(self) -> list[list[str]]:
        """The two conv-BN layers and the classifier, in order.

        For layer-wise LR decay (``layer_decay``): a list of layers from the input to the output, each a list
        of module names; the LR of layer ``i`` of ``L`` is multiplied by ``layer_decay ** (L - 1 - i)``.

        Example::

            >>> TinyNet().layer_groups()
            [['net.0', 'net.1'], ['net.4', 'net.5'], ['net.9']]
        """
        return [["net.0", "net.1"], ["net.4", "net.5"], ["net.9"]]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
