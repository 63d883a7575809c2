"""Config validation: rules, component annotations, the shipped configs, checks against the space, budget cap."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import nas.cli.common
import nas.validation
from nas.cli.common import CONF_DIR, unknown_config_choice
from nas.validation import (
    ConfigValueError,
    check_config,
    search_budget,
    unchecked_keys,
    validate,
    validate_against_space,
)
from search_spaces.elastic_conv import ElasticConvSearchSpace
from tests.nas.searchers.helpers import Grid


class Widget:
    """A component whose parameters are only annotated: the validator checks their types."""

    def __init__(self, size: int, ratio: float | None = None, names: list[str] = (), mode: str = "a"):
        self.size = size


def composed(app: str, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(app, overrides=list(overrides))


def shipped_configs() -> list[tuple[str, list[str]]]:
    """(app, overrides) that compose every choice of every config group at least once.

    The i-th composition of an app takes the i-th choice of each of its groups (fewer compositions than
    one per choice: Hydra's compose is slow); experiments set choices of other groups, so each is alone.
    """
    cases = [("run", []), ("search", []), ("train", []), ("bench_build", []), ("leaderboard", []), ("rank", []),
             ("export", ["run_dir=x"]), ("retrain", ["run_dir=x"]), ("latency_build", [])]
    groups = {"run": ["dataset", "search_space", "path_sampler", "data_sampler", "trainer", "method", "distillation",
                      "few_shot", "evaluator", "searcher", "benchmark", "preset"],
              "bench_build": ["recipe"], "leaderboard": ["board"], "retrain": ["recipe"], "search": ["latency"]}
    for app, names in groups.items():
        choices = {group: sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml")) for group in names}
        for i in range(max(len(c) for c in choices.values())):
            overrides = [f"{group}={c[i]}" for group, c in choices.items() if i < len(c)]
            if "search_space=plugin" in overrides:
                overrides.append("search_space.name=nb201")
            if app == "retrain":
                overrides.append("run_dir=x")  # the run folder to read is required
            cases.append((app, overrides))
    cases += [("run", [f"experiment={p.stem}"]) for p in sorted((Path(CONF_DIR) / "experiment").glob("*.yaml"))]
    return cases


def test_every_shipped_config_is_valid_and_every_key_is_checked():
    refused, unchecked = {}, set()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for app, overrides in shipped_configs():
            cfg = compose(app, overrides=overrides)
            if check_config(cfg):
                refused[(app, *overrides)] = check_config(cfg)
            unchecked |= set(unchecked_keys(cfg))
    assert not refused
    assert not unchecked, f"add a rule to nas.validation.SCHEMA (or annotate the component's parameter): {unchecked}"


def test_rules_name_the_key_the_value_the_problem_and_the_fix():
    cfg = OmegaConf.create({
        "seed": -1, "progress": "yes", "threads": None, "seeds": [0, "x"],
        "search": {"budget": None, "top_k": 3},
        "evaluator": {"bn_policy": "Recalibrate"},
        "searcher": {"crossover_prob": 1.5, "cost_objective": None},
        "path_sampler": {"delay_fraction": 1.0, "seed": "${seed}"},
        "trainer": {"device": "gpu", "method": {"optimization": {"grad_clip_norm": 0}}},
    })
    assert check_config(cfg) == [
        "seed=-1: out of range; use an integer >= 0",
        "progress=yes: not true or false; use true or false",
        "seeds=[0,x]: entry 1 (x) is not an integer; "
        "use a list of 1 or more entries, each an integer >= 0 (e.g. [a,b])",
        "search.budget=null: no value; use an integer >= 1",
        "evaluator.bn_policy=Recalibrate: unknown choice; use one of recalibrate, batch_stats, running_stats",
        "searcher.crossover_prob=1.5: out of range; use a number in [0, 1]",
        "path_sampler.delay_fraction=1.0: out of range; use a number in [0, 1)",
        "trainer.device=gpu: not a device; use auto, cpu, cuda or cuda:<index>",
        "trainer.method.optimization.grad_clip_norm=0: out of range; use a number > 0 or null",
    ]  # threads=null, top_k=3, cost_objective=null and the interpolated seed are fine


def test_values_fine_alone_but_not_together_are_refused():
    cfg = composed("run", "evaluator.recalibration_batches=0")
    assert check_config(cfg) == ["evaluator.recalibration_batches=0: bn_policy=recalibrate needs at least one "
                                 "batch; use recalibration_batches >= 1, or evaluator.bn_policy=batch_stats"]
    assert check_config(composed("run", "evaluator.recalibration_batches=0", "evaluator.bn_policy=batch_stats")) == []


def test_a_components_parameters_are_checked_against_their_annotations():
    target = f"{__name__}.Widget"
    cfg = OmegaConf.create({"widget": {"_target_": target, "size": 2.5, "ratio": "high", "names": ["a", 3],
                                       "mode": "b"}})
    assert check_config(cfg) == [
        f"widget.size=2.5: not an integer; use an integer (parameter 'size' of {target})",
        f"widget.ratio=high: not a number or null; use a number or null (parameter 'ratio' of {target})",
        f"widget.names=[a,3]: not a list; use a list (parameter 'names' of {target})",
    ]
    assert not unchecked_keys(cfg)
    fine = OmegaConf.create({"widget": {"_target_": target, "size": 2, "ratio": 1, "names": ["a"]}})
    assert check_config(fine) == []


def test_an_unimportable_target_and_a_missing_value_are_refused():
    cfg = OmegaConf.create({"path_sampler": {"_target_": "samplers.NoSuchSampler"}, "search_space": {"name": "???"}})
    assert check_config(cfg) == [
        "path_sampler._target_=samplers.NoSuchSampler: cannot be imported; "
        "use the dotted path of an importable class or function",
        "search_space.name=???: no value; set it on the command line (search_space.name=...)",
    ]


def test_validate_raises_one_error_listing_every_problem():
    with pytest.raises(ConfigValueError) as info:
        validate(composed("run", "seed=abc", "search.budget=abc"))
    assert info.value.problems == ["seed=abc: not an integer; use an integer >= 0",
                                   "search.budget=abc: not an integer; use an integer >= 1"]
    validate(composed("run"))  # the defaults pass


def test_cost_bounds_are_checked_against_the_space_before_training():
    space = ElasticConvSearchSpace()  # 20,920,706,406 architectures: judged on samples plus the extremes
    smallest, largest = space.cost(space.smallest()), space.cost(space.largest())
    validate_against_space(composed("run", "searcher=constrained_evolution",
                                    f"searcher.constraints.max_params={smallest['params']}"), space)
    with pytest.raises(ConfigValueError, match=r"^searcher.constraints.min_flops=\d+: no architecture of search "
                                               r"space 'elastic_conv' meets"):
        validate_against_space(composed("run", "searcher=constrained_evolution",
                                        f"searcher.constraints.min_flops={largest['flops'] + 1}"), space)
    validate_against_space(composed("run"), space)  # no bounds: nothing to check


def test_a_budget_above_the_space_size_is_capped_with_one_line(capsys):
    space = Grid(3, 4)
    assert search_budget(composed("search", "search.budget=5"), space) == 5
    assert capsys.readouterr().out == ""
    assert search_budget(composed("search", "search.budget=1000"), space) == 12
    assert capsys.readouterr().out == "search.budget=1,000 is more than the 12 architectures of search space " \
                                      "'grid': capped to 12\n"


@pytest.mark.parametrize("overrides, problem", [
    (["seed=1", "experiment=nope"], "experiment=nope: no config 'nope' in group 'experiment'; choose one of "
                                    + ", ".join(sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml")))),
    (["++trainer=fast"], "++trainer=fast: no config 'fast' in group 'trainer'; choose one of default"),
    (["board=elastic_conv,flat"], "board=elastic_conv,flat: no config 'flat' in group 'board'; choose one of "
                                  + ", ".join(sorted(p.stem for p in (Path(CONF_DIR) / "board").glob("*.yaml")))),
    (["experiment=null", "distillation=kl", "trainer.epochs=3"], None),
    (["hydra/launcher=nope"], None),                         # nested groups: Hydra's own message
    (["path_sampler=choice(uniform,nope)"], None),           # sweep functions: Hydra's
    (["hydra.searchpath=[file:///elsewhere]", "path_sampler=mine"], None),  # choices may live elsewhere
])
def test_unknown_config_choices_are_found_before_hydra_composes(overrides, problem):
    assert unknown_config_choice(overrides) == problem


@pytest.mark.parametrize("module", [nas.validation, nas.cli.common])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
