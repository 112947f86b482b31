"""The pack's LightningModule: a CIFAR image classifier whose optimizer and schedule come from YAML.

Example::

    >>> import functools, torch
    >>> model = ImageClassifier(arch="tiny", optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torchmetrics.classification import MulticlassAccuracy

from lr_recipes.module import RecipeModule, ScaleRule
from lr_recipes.pack.models import available_models, create_model
from lr_recipes.registry import RecipeError


class ImageClassifier(RecipeModule):
    """Cross-entropy classification of ``(images, labels)`` batches with a model from :mod:`lr_recipes.pack.models`.

    Logs ``train_loss`` and ``train_acc``, ``val_loss`` and ``val_acc``, ``test_loss`` and ``test_acc``
    (torchmetrics accuracy, epoch-level values synced across DDP ranks).

    Args:
        optimizer: a callable of the parameters returning the optimizer (``class_path``/``init_args`` in YAML).
        schedule: a recipe name or spec, e.g. ``{"name": "cosine", "warmup": "5ep"}``.
        arch: a model name from ``lr_recipes.pack.models.available_models()``.
        num_classes: number of classes.
        model_kwargs: extra arguments of the model, e.g. ``{"shortcut": "B"}`` for the He et al. ResNets.
        label_smoothing: cross-entropy label smoothing, in [0, 1).
        channels_last: keep the weights and the batches in ``channels_last`` memory format (faster convs on
            tensor-core GPUs, with bf16 ``precision``).
        compile: ``torch.compile`` the model (in ``configure_model``, so it happens on the right device).
        no_weight_decay_on_norm_and_bias: put norm weights and biases in a param group with weight decay 0
            (the rule ``{name: no_decay, max_ndim: 1, weight_decay: 0}`` after ``param_groups``).
        scale_lr: ``"linear"`` or ``"sqrt"`` scaling of the LR by global batch / ``base_batch_size``.
        base_batch_size: the batch size the LR was tuned for; ``None``: the per-device batch size.
        param_groups: rules giving parts of the model their own ``lr_mult`` / ``weight_decay`` (first
            matching rule wins; names as in ``named_parameters()``, e.g. ``"model.layers.*"``).
        layer_decay: layer-wise LR decay over the model's :meth:`layer_groups` (stem to head).

    Raises:
        RecipeError: for an unknown ``arch``, a bad ``label_smoothing`` or a bad schedule spec.

    Example::

        >>> import functools, torch
        >>> ImageClassifier(arch="resnet20", optimizer=functools.partial(torch.optim.SGD, lr=0.1)).arch
        'resnet20'
    """

    def __init__(
        self,
        optimizer: OptimizerCallable,
        schedule: str | dict[str, Any] = "constant",
        arch: str = "resnet18",
        num_classes: int = 10,
        model_kwargs: dict[str, Any] | None = None,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
        no_weight_decay_on_norm_and_bias: bool = False,
        scale_lr: ScaleRule | None = None,
        base_batch_size: int | None = None,
        param_groups: list[dict[str, Any]] | None = None,
        layer_decay: float | None = None,
    ) -> None:
        super().__init__(
            optimizer=optimizer,
            schedule=schedule,
            scale_lr=scale_lr,
            base_batch_size=base_batch_size,
            param_groups=param_groups,
            layer_decay=layer_decay,
            no_weight_decay_on_norm_and_bias=no_weight_decay_on_norm_and_bias,
        )
        if arch not in available_models():
            try:
                create_model(arch)
            except ValueError as err:
                raise RecipeError(f"arch={arch!r}: {err}") from None
        if not 0.0 <= label_smoothing < 1.0:
            raise RecipeError(f"label_smoothing={label_smoothing!r} is not allowed; allowed: 0 <= label_smoothing < 1")
        self.save_hyperparameters(ignore=["optimizer"])
        self.arch = arch
        self.label_smoothing = label_smoothing
        self.channels_last = channels_last
        self.compile = compile
        self.model = create_model(arch, num_classes=num_classes, **(model_kwargs or {}))
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")

    def configure_model(self) -> None:
        if self.compile and not hasattr(self.model, "_orig_mod"):
            self.model = torch.compile(self.model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def layer_groups(self) -> list[list[str]] | None:
        """The model's ``layer_groups()`` (stem, stages, head), as names in this module; ``None`` if it has none.

        Example::

            >>> import functools, torch
            >>> model = ImageClassifier(arch="resnet20", optimizer=functools.partial(torch.optim.SGD, lr=0.1))
            >>> [layer[0] for layer in model.layer_groups()]
            ['model.stem', 'model.layers.0', 'model.layers.3', 'model.layers.6', 'model.fc']
        """
        model = getattr(self.model, "_orig_mod", self.model)
        if not callable(getattr(model, "layer_groups", None)):
            return None
        return [[f"model.{name}" for name in layer] for layer in model.layer_groups()]

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing if stage == "train" else 0.0)
        metric = getattr(self, f"{stage}_acc")
        metric(logits, y)
        on_step = stage == "train"
        # The per-step loss stays off the progress bar: Lightning turns every progress-bar value into a
        # Python number after each batch, a host-device sync per step on a GPU. Loggers still get it.
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=not on_step, sync_dist=not on_step)
        self.log(f"{stage}_acc", metric, on_step=False, on_epoch=True, prog_bar=stage != "train")
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x).argmax(dim=1)
