"""The CIFAR models: output shapes, published parameter counts, shortcut options, the name registry."""

from __future__ import annotations

import pytest
import torch

from lr_recipes.pack.models import CifarResNet, available_models, create_model


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", available_models())
def test_forward_shape(name: str) -> None:
    model = create_model(name, num_classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name", ["resnet20", "resnet9", "tiny"])
def test_channels_last_and_bf16(name: str) -> None:
    x = torch.randn(2, 3, 32, 32)
    model = create_model(name).eval()
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model_cl(x.contiguous(memory_format=torch.channels_last)), ref)
        assert model.bfloat16()(x.bfloat16()).dtype == torch.bfloat16


# Published sizes: He et al. 2016 Table 6 (0.27M, 0.85M, 1.7M); kuangliu/pytorch-cifar ResNet18 (11.17M).
@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [("resnet20", 0.27e6, 0.01e6), ("resnet56", 0.85e6, 0.01e6), ("resnet110", 1.7e6, 0.05e6),
     ("resnet18", 11.17e6, 0.01e6)],
)  # fmt: skip
def test_parameter_counts(name: str, published: float, tolerance: float) -> None:
    assert abs(n_params(create_model(name)) - published) <= tolerance


def test_resnet9_matches_page() -> None:
    model = create_model("resnet9")
    assert n_params(model) == 6_573_120
    assert model.scale == 0.125


def test_shortcut_a_is_parameter_free_and_b_projects() -> None:
    a, b = create_model("resnet20"), create_model("resnet20", shortcut="B")
    assert n_params(a) == 269_722
    # Two downsampling blocks, each a 1×1 conv + BN: 16·32 + 2·32 and 32·64 + 2·64.
    assert n_params(b) - n_params(a) == (16 * 32 + 64) + (32 * 64 + 128)


def test_bad_constructor_args() -> None:
    with pytest.raises(ValueError, match=r"depth must be 6n \+ 2 .* got 21"):
        CifarResNet(depth=21)
    with pytest.raises(ValueError, match=r"shortcut must be \"A\" or \"B\", got 'C'"):
        create_model("resnet20", shortcut="C")


def test_unknown_name_lists_names_and_closest_match() -> None:
    with pytest.raises(ValueError) as info:
        create_model("resnet_56")
    msg = str(info.value)
    assert "'resnet_56'" in msg
    assert "Did you mean 'resnet56'?" in msg
    assert all(name in msg for name in available_models())


def test_available_models() -> None:
    names = available_models()
    assert names == sorted(names)
    assert {"resnet18", "resnet20", "resnet32", "resnet56", "resnet110", "resnet9", "tiny"} <= set(names)
