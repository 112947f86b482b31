"""The Lightning internals LRSchedulerCallback leans on: an upgrade that moves one fails here, by name,
instead of silently logging wrong keys or stepping a scheduler twice."""

from __future__ import annotations

import inspect

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import BaseFinetuning, Callback, LearningRateMonitor
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import _LoggerConnector
from lightning.pytorch.utilities.types import LRSchedulerConfig

from lr_recipes import LRSchedulerCallback


@pytest.mark.parametrize(
    "name",
    [
        "_find_names_from_schedulers",
        "_find_names_from_optimizers",
        "_check_duplicates_and_update_name",
        "_extract_stats",
        "_get_optimizer_stats",
        "_remap_keys",
    ],
)
def test_learning_rate_monitor_naming_methods_exist(name: str) -> None:
    assert callable(getattr(LearningRateMonitor, name, None)), f"LearningRateMonitor.{name} is gone"


def test_overridden_naming_methods_keep_lightnings_signatures() -> None:
    for name in ("_find_names_from_schedulers", "_find_names_from_optimizers", "_extract_stats"):
        ours = list(inspect.signature(getattr(LRSchedulerCallback, name)).parameters)
        theirs = list(inspect.signature(getattr(LearningRateMonitor, name)).parameters)
        assert ours == theirs, name


def test_every_overridden_hook_is_a_lightning_hook_marked_override() -> None:
    for klass in LRSchedulerCallback.__mro__:
        if not klass.__module__.startswith("lr_recipes"):
            continue
        for name, fn in vars(klass).items():
            if name.startswith("on_") or name in ("setup", "teardown", "state_dict", "load_state_dict"):
                assert hasattr(Callback, name), f"{klass.__name__}.{name} is not a Lightning Callback hook"
                assert getattr(fn, "__override__", False), f"{klass.__name__}.{name} lacks @override"


def test_loop_only_steps_configs_with_a_step_or_epoch_interval() -> None:
    """The callback owns a config by giving it an interval Lightning never matches."""
    source = inspect.getsource(_TrainingEpochLoop._update_learning_rates)
    assert "config.interval == interval" in source
    assert "% config.frequency == 0" in source
    assert {f.name for f in LRSchedulerConfig.__dataclass_fields__.values()} >= {
        "scheduler",
        "interval",
        "frequency",
        "reduce_on_plateau",
        "monitor",
        "name",
    }


def test_trainer_and_loop_attributes_read_on_the_hot_path() -> None:
    assert "_batches_that_stepped" in inspect.getsource(_TrainingEpochLoop.__init__)
    assert "self._callback_metrics" in inspect.getsource(_LoggerConnector.callback_metrics.fget)
    assert isinstance(inspect.getattr_static(_LoggerConnector, "should_update_logs"), property)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    assert isinstance(trainer._logger_connector._callback_metrics, dict)
    assert trainer.fit_loop.epoch_loop._batches_that_stepped == 0


def test_global_step_is_the_progress_counter_the_plateau_stepper_reads() -> None:
    """PlateauStepper reads trainer.global_step's counter directly (one attribute instead of five properties)."""
    source = inspect.getsource(_TrainingEpochLoop.global_step.fget)
    assert "self.automatic_optimization.optim_progress.optimizer_steps" in source
    from lightning.pytorch.loops.progress import _OptimizationProgress

    assert "self.optimizer.step.total.completed" in inspect.getsource(_OptimizationProgress.optimizer_steps.fget)
    from lightning.pytorch.core.optimizer import _configure_schedulers_manual_opt

    assert '"reduce_on_plateau"' in inspect.getsource(_configure_schedulers_manual_opt), "manual: never on plateau"


def test_trainer_states_are_enum_members_whose_values_the_callback_compares() -> None:
    """on_validation_end tells sanity checking and fitting by the members' ``_value_`` (LightningEnum's ``==`` is a
    method that lowercases both sides), which must hold for both namespaces' enum classes."""
    assert "self.state.stage = RunningStage.SANITY_CHECKING" in inspect.getsource(pl.Trainer.sanity_checking.fset)
    assert "self.state.fn = TrainerFn.FITTING" in inspect.getsource(pl.Trainer.fit)
    from lightning.pytorch.trainer.states import RunningStage, TrainerFn

    assert (TrainerFn.FITTING._value_, RunningStage.SANITY_CHECKING._value_) == ("fit", "sanity_check")
    pytorch_lightning = pytest.importorskip("pytorch_lightning")
    states = pytorch_lightning.trainer.states
    assert (states.TrainerFn.FITTING._value_, states.RunningStage.SANITY_CHECKING._value_) == ("fit", "sanity_check")


def test_what_the_plateau_hand_back_reads() -> None:
    """A plateau config whose monitor training logs is handed back in on_train_epoch_end, which Lightning calls
    before its epoch-end stepping; training's logged names are in the epoch loop's result collection; a fit
    without validation is told by Trainer.enable_validation."""
    from lightning.pytorch.loops.fit_loop import _FitLoop
    from lightning.pytorch.trainer.connectors.logger_connector.result import _Metadata

    source = inspect.getsource(_FitLoop.on_advance_end)
    assert source.index('"on_train_epoch_end"') < source.index('update_lr_schedulers("epoch"')
    assert "self._results = _ResultCollection(training=True)" in inspect.getsource(_TrainingEpochLoop.__init__)
    assert callable(_Metadata.forked_name)
    assert isinstance(inspect.getattr_static(pl.Trainer, "enable_validation"), property)


def test_mixed_precision_calls_the_scaler_step_after_on_before_optimizer_step() -> None:
    """AMP: the trace row is recorded in on_before_optimizer_step, then the GradScaler may skip the step."""
    source = inspect.getsource(MixedPrecision.optimizer_step)
    assert source.index("_after_closure") < source.index("self.scaler.step(")


def test_base_finetuning_restores_its_param_groups_at_fit_start() -> None:
    """Resume with a group added mid-run: the group is back before the scheduler's state is loaded."""
    assert "_restarting" in inspect.getsource(BaseFinetuning.on_fit_start)


def test_csv_logger_internals_behind_log_metrics() -> None:
    """lr_recipes.callback.naming.log_metrics buffers a row in CSVLogger's writer at a flush step Lightning just
    wrote: it leans on these names, and on Lightning writing the logger after each of its own log calls."""
    from lightning.fabric.loggers.csv_logs import CSVLogger as FabricCSVLogger
    from lightning.pytorch.loggers import CSVLogger

    from lr_recipes.callback.naming import _writes_at_flush_steps

    source = inspect.getsource(FabricCSVLogger.log_metrics)
    assert "_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)" in source
    assert "(step + 1) % self._flush_logs_every_n_steps == 0" in source
    assert "self.experiment.log_metrics(metrics, step)" in source
    assert "logger.save()" in inspect.getsource(_LoggerConnector.log_metrics)
    assert _writes_at_flush_steps(CSVLogger("logs"))
    assert not _writes_at_flush_steps(type("Mine", (CSVLogger,), {"log_metrics": lambda *a, **k: None})("logs"))
