"""Param groups from config: first match wins, per-group LR and weight decay under the schedule and scale_lr,
layer-wise LR decay, every refused configuration's message, and the YAML path through the CLI."""

from __future__ import annotations

import csv
import functools
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lr_recipes.pack.classifier import ImageClassifier
from lr_recipes.pack.cli import main
from lr_recipes.pack.preview import preview
from lr_recipes.param_groups import ParamGroupError, resolve

ROOT = Path(__file__).resolve().parents[1]
SGD = functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4)


def _model(**kwargs: Any) -> ImageClassifier:
    kwargs.setdefault("optimizer", SGD)
    return ImageClassifier(arch="resnet20", **kwargs)


def _groups(model: ImageClassifier, **kwargs: Any) -> dict[str, dict[str, Any]]:
    config = model.make_optimizers(total_steps=100, steps_per_epoch=10, **kwargs)
    return {g["name"]: g for g in config["optimizer"].param_groups}


def test_first_matching_rule_wins_and_the_rest_is_the_default_group() -> None:
    rules = [
        {"name": "head", "match": "model.fc.*", "lr_mult": 10.0, "weight_decay": 0.0},
        {"name": "backbone_norms", "regex": r"^model\.layers\..*\.bn\d\.", "lr_mult": 0.1, "weight_decay": 0.0},
        {"name": "backbone", "match": "model.layers.*", "lr_mult": 0.1},
    ]
    model = _model(param_groups=rules)
    groups = _groups(model)
    assert list(groups) == ["head", "backbone_norms", "backbone", "default"]
    names = {n for n, _ in model.named_parameters()}
    by_group = {name: {id(p) for p in g["params"]} for name, g in groups.items()}
    ids = {n: id(p) for n, p in model.named_parameters()}
    assert by_group["head"] == {ids["model.fc.weight"], ids["model.fc.bias"]}
    assert ids["model.layers.0.bn1.weight"] in by_group["backbone_norms"]
    assert ids["model.layers.0.conv1.weight"] in by_group["backbone"]
    assert by_group["default"] == {ids[n] for n in names if n.startswith("model.stem")}
    assert sum(len(g) for g in by_group.values()) == len(names)  # each parameter exactly once
    lrs = {"head": 1.0, "backbone_norms": 0.01, "backbone": 0.01, "default": 0.1}
    decays = {"head": 0.0, "backbone_norms": 0.0, "backbone": 5e-4, "default": 5e-4}
    assert {k: g["lr"] for k, g in groups.items()} == pytest.approx(lrs)
    assert {k: g["weight_decay"] for k, g in groups.items()} == decays


def test_the_schedule_moves_every_group_from_its_own_base_lr_and_scale_lr_scales_them_all() -> None:
    rules = [{"name": "backbone", "match": "model.layers.*", "lr_mult": 0.1}]
    model = _model(
        param_groups=rules, schedule={"name": "cosine", "warmup": "1ep"}, scale_lr="linear", base_batch_size=64
    )
    config = model.make_optimizers(
        total_steps=100, steps_per_epoch=10, global_batch_size=128, per_device_batch_size=128
    )
    opt, sched = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert [g["initial_lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2])  # 0.1 x lr_mult x 128/64
    for t in (0, 5, 37, 99):
        backbone, default = sched.lr_at(t)
        assert backbone == pytest.approx(0.1 * default, rel=1e-12)


def test_no_weight_decay_on_norm_and_bias_is_a_rule_after_the_others() -> None:
    groups = _groups(_model(no_weight_decay_on_norm_and_bias=True))
    assert list(groups) == ["no_decay", "default"]
    assert all(p.ndim == 1 for p in groups["no_decay"]["params"]) and groups["no_decay"]["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in groups["default"]["params"]) and groups["default"]["weight_decay"] == 5e-4


def test_layer_decay_multiplies_by_decay_to_the_depth_from_the_top() -> None:
    model = _model(layer_decay=0.5)
    groups = _groups(model)
    # resnet20: stem, three stages, fc -> depths 4, 3, 2, 1, 0
    assert {k: g["lr"] for k, g in groups.items()} == pytest.approx(
        {f"default/layer{i}": 0.1 * 0.5 ** (4 - i) for i in range(5)}
    )
    assert [id(p) for p in groups["default/layer4"]["params"]] == [id(p) for p in model.model.fc.parameters()]
    assert sum(len(g["params"]) for g in groups.values()) == len(list(model.parameters()))


def _raises(match: str, **kwargs: Any) -> None:
    with pytest.raises(ParamGroupError, match=match):
        _groups(_model(**kwargs))


def test_a_rule_that_matches_nothing_names_the_closest_module() -> None:
    _raises(r"matches no parameter; closest: 'model\.layers\.\*'", param_groups=[{"name": "b", "match": "layers.*"}])


def test_an_empty_group_is_refused() -> None:
    rules = [
        {"name": "all", "match": "model.*", "lr_mult": 0.5},
        {"name": "fc", "match": "model.fc.*", "lr_mult": 0.5},
    ]
    _raises("'fc' .* is empty: it matches only parameters earlier rules claim", param_groups=rules)


def test_an_ambiguous_overlap_is_refused_and_a_deliberate_override_is_not() -> None:
    backbone = {"name": "backbone", "match": "model.layers.*", "lr_mult": 0.1}
    _raises(
        r"matched by param_groups\[0\] 'backbone' .* and by param_groups\[1\] 'no_decay' .* default for weight_decay",
        param_groups=[backbone, {"name": "no_decay", "max_ndim": 1, "weight_decay": 0.0}],
    )
    _raises("'backbone'.*'no_decay'", param_groups=[backbone], no_weight_decay_on_norm_and_bias=True)
    specific = {"name": "last_stage", "match": "model.layers.8.*", "lr_mult": 0.5}
    assert list(_groups(_model(param_groups=[specific, backbone]))) == ["last_stage", "backbone", "default"]


def test_a_frozen_parameter_in_a_group_is_refused_unless_skipped() -> None:
    model = _model(param_groups=[{"name": "stem", "match": "model.stem.*", "lr_mult": 0.1}])
    model.model.stem.requires_grad_(False)
    with pytest.raises(ParamGroupError, match=r"matches 3 frozen parameter\(s\).*skip_frozen"):
        _groups(model)
    model = _model(param_groups=[{"name": "early", "match": "model.*", "max_ndim": 1, "skip_frozen": True}])
    model.model.stem.requires_grad_(False)
    groups = _groups(model)
    frozen = {id(p) for p in model.model.stem.parameters()}
    assert not frozen & {id(p) for g in groups.values() for p in g["params"]}


def test_the_readme_fine_tuning_rules_apply_as_documented() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("### Param groups from config")[1].split("```yaml")[1].split("```")[0]
    config = yaml.safe_load(block)["model"]
    groups = _groups(_model(**config))
    assert list(groups) == ["head_no_decay", "head", "backbone_norms", "backbone"]  # nothing left for default
    assert [len(g["params"]) for g in groups.values()][:2] == [1, 1]
    assert {k: (round(g["lr"], 6), g["weight_decay"]) for k, g in groups.items()} == {
        "head_no_decay": (0.1, 0.0),
        "head": (0.1, 5e-4),
        "backbone_norms": (0.01, 0.0),
        "backbone": (0.01, 5e-4),
    }


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ({"name": "x", "match": "*", "lr_mul": 2}, "unknown key 'lr_mul' \\(did you mean 'lr_mult'\\?\\)"),
        ({"match": "*"}, "has no name"),
        ({"name": "x", "match": "*", "regex": "."}, "both match and regex"),
        ({"name": "x"}, "selects nothing"),
        ({"name": "x", "regex": "("}, "not a regular expression"),
        ({"name": "x", "match": "*", "lr_mult": -1}, "lr_mult=-1 must be finite and >= 0"),
        ({"name": "default", "match": "*"}, "unmatched parameters"),
    ],
)
def test_malformed_rules_are_refused_at_construction(rule: dict[str, Any], match: str) -> None:
    with pytest.raises(ParamGroupError, match=match):
        _model(param_groups=[rule])


def test_layer_decay_errors() -> None:
    _raises(r"layer_decay=1\.5 is not allowed", layer_decay=1.5)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    with pytest.raises(ParamGroupError, match="no layer_groups"):
        resolve(net.named_parameters(), [], layers=None, layer_decay=0.5)
    with pytest.raises(ParamGroupError, match=r"parameter '1\.weight' is in no layer"):
        resolve(net.named_parameters(), [], layers=[["0"]], layer_decay=0.5)


def test_rules_name_a_compiled_model_as_written() -> None:
    model = _model(param_groups=[{"name": "fc", "match": "model.fc.*"}])
    model.model = torch.nn.Module()  # what torch.compile leaves: the model under `_orig_mod`
    model.model._orig_mod = torch.nn.ModuleDict({"fc": torch.nn.Linear(2, 2)})
    assert [g["name"] for g in model.optimizer_parameters()] == ["fc"]


def test_param_groups_from_yaml_through_the_cli(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    overlay = tmp_path / "finetune.yaml"
    overlay.write_text(
        "model:\n"
        "  param_groups:\n"
        "    - {name: backbone, match: 'model.net.[0-5]*', lr_mult: 0.1}\n"
        "  no_weight_decay_on_norm_and_bias: false\n"
    )
    recipe = ["--config", str(ROOT / "recipes" / "cosine.yaml"), "--config", str(ROOT / "recipes" / "smoke.yaml")]
    args = [*recipe, "--config", str(overlay), "--trainer.max_epochs", "2"]
    torch.set_num_threads(1)
    # On lightning.pytorch's logger: another test's setup may have raised its level (benchmarks' quiet()).
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        main(
            [
                "fit",
                *args,
                "--trainer.logger.init_args.save_dir",
                str(tmp_path),
                "--trainer.enable_progress_bar",
                "false",
            ]
        )
    assert "param groups of SGD:" in caplog.text and "backbone" in caplog.text
    (trace,) = tmp_path.rglob("lr_trace.csv")
    with open(trace, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"lr-SGD/backbone", "lr-SGD/default"} <= set(rows[0])
    for row in rows:
        assert float(row["lr-SGD/backbone"]) == pytest.approx(0.1 * float(row["lr-SGD/default"]), rel=1e-9)
    p = preview(args)
    assert p.groups == ["backbone", "default"]
    assert [a / b for a, b in p.lrs[:3]] == pytest.approx([0.1] * 3)


def test_a_bad_rule_in_yaml_fails_before_training_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("model:\n  param_groups:\n    - {name: backbone, match: 'backbone.*', lr_mult: 0.1}\n")
    args = ["fit", "--config", str(ROOT / "recipes" / "cosine.yaml"), "--config", str(ROOT / "recipes" / "smoke.yaml")]
    args += ["--config", str(overlay), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    try:
        status = main(args)
    except ParamGroupError as err:  # before the CLI maps project errors to exit status 2
        message = str(err)
    except SystemExit as exit_:
        assert exit_.code == 2
        message = capsys.readouterr().err
    else:
        assert status == 2
        message = capsys.readouterr().err
    assert "param_groups[0] 'backbone' (match 'backbone.*') matches no parameter" in message
