"""The training-heuristic switches in the config schema: bad values are refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nas.cli.common import CONF_DIR
from nas.validation import check_config


def problems(*overrides: str) -> list[str]:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return check_config(compose("run", overrides=list(overrides)))


@pytest.mark.parametrize("override, problem", [
    ("path_sampler.distinct=maybe", "path_sampler.distinct=maybe: unknown choice; use one of true, false, auto"),
    ("path_sampler.max_none=-1", "path_sampler.max_none=-1: out of range; use an integer >= 0 or null"),
    ("search_space.drop_path=1.0", "search_space.drop_path=1.0: out of range; use a number in [0, 1)"),
    ("search_space.bn_affine=1", "search_space.bn_affine=1: not true or false; use true or false"),
    ("evaluator.metric=top5", "evaluator.metric=top5: unknown choice; use one of accuracy, loss"),
    ("evaluator.snapshots=-1", "evaluator.snapshots=-1: out of range; use an integer >= 0"),
    ("trainer.method.loss.label_smoothing=1.0",
     "trainer.method.loss.label_smoothing=1.0: out of range; use a number in [0, 1)"),
])
def test_a_bad_value_is_one_line(override, problem):
    assert problems(override) == [problem]


def test_untracked_batch_norm_needs_batch_statistics_for_scoring():
    assert problems("search_space.bn_track_running_stats=false") == [
        "evaluator.bn_policy=recalibrate: with search_space.bn_track_running_stats=false the supernet's op "
        "BatchNorms keep no running statistics and always use batch statistics; use evaluator.bn_policy=batch_stats"]
    assert problems("search_space.bn_track_running_stats=false", "evaluator.bn_policy=batch_stats") == []


@pytest.mark.parametrize("experiment, key, value", [
    ("spos_distinct", "path_sampler.distinct", True), ("spos_max_none2", "path_sampler.max_none", 2),
    ("spos_label_smoothing", "trainer.method.loss.label_smoothing", 0.1),
    ("spos_drop_path", "search_space.drop_path", 0.1),
    ("spos_bn_no_track", "search_space.bn_track_running_stats", False),
    ("spos_bn_no_affine", "search_space.bn_affine", False), ("spos_score_loss", "evaluator.metric", "loss"),
    ("spos_valid10k", "evaluator.valid_size", 10_000), ("spos_snapshots", "evaluator.snapshots", 3),
    ("spos_lr0.1", "trainer.method.optimization.optimizer.lr", 0.1),
    ("spos_lr0.025", "trainer.method.optimization.optimizer.lr", 0.025),
    ("spos_wd1e-4", "trainer.method.optimization.optimizer.weight_decay", 1e-4),
    ("spos_wd2e-3", "trainer.method.optimization.optimizer.weight_decay", 2e-3),
    ("spos_60ep", "trainer.epochs", 60), ("spos_120ep", "trainer.epochs", 120),
    ("spos_distinct_60ep", "trainer.epochs", 60), ("spos_distinct_60ep", "path_sampler.distinct", True),
    ("spos_distinct_120ep", "trainer.epochs", 120), ("spos_distinct_120ep", "path_sampler.distinct", True),
])
def test_each_experiment_is_spos_plus_its_switch(experiment, key, value):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        spos = OmegaConf.to_container(compose("run", overrides=["experiment=spos"]), resolve=False)
        cfg = OmegaConf.to_container(compose("run", overrides=[f"experiment={experiment}"]), resolve=False)

    def get(tree, dotted):
        for part in dotted.split("."):
            tree = tree[part]
        return tree

    def flat(tree, prefix=""):
        for k, v in tree.items():
            yield from flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]

    assert get(cfg, key) == value
    changed = {k for (k, v) in flat(cfg) if dict(flat(spos)).get(k, object()) != v}
    allowed = {key, "evaluator.bn_policy"} if experiment == "spos_bn_no_track" else {key}
    if experiment in ("spos_distinct_60ep", "spos_distinct_120ep"):
        allowed = {"trainer.epochs", "path_sampler.distinct"}
    assert key in changed and changed <= allowed, changed
    epochs = {"spos_60ep": 60, "spos_120ep": 120, "spos_distinct_60ep": 60, "spos_distinct_120ep": 120}
    assert cfg["trainer"]["epochs"] == epochs.get(experiment, 30)


def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("run", overrides=list(overrides))


def test_nas_run_scores_by_loss_while_every_board_row_keeps_accuracy():
    """The study's best scoring (validation loss) is `nas run`'s default at both presets; the leaderboard rows
    keep the boards' protocol (accuracy) unless the row itself scores by loss."""
    assert composed().evaluator.metric == "loss"
    assert composed("preset=full").evaluator.metric == "loss"
    experiments = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
    assert len(experiments) > 30
    by_loss = {e for e in experiments if composed(f"experiment={e}").evaluator.metric == "loss"}
    assert by_loss == {"spos_score_loss", "elastic_uniform_score_loss"}
