"""make_sampler: any optuna.samplers class by name, seeded; unknown names list the valid ones."""

from __future__ import annotations

import optuna
import pytest

from nas.errors import ConfigError
from nas.searchers import make_sampler, sampler_names
from tests.nas.searchers.helpers import Grid


def test_names_are_the_concrete_samplers_of_optuna():
    names = sampler_names()
    for expected in ("TPESampler", "NSGAIISampler", "RandomSampler", "CmaEsSampler", "GPSampler", "GridSampler"):
        assert expected in names
    assert "BaseSampler" not in names and "nsgaii" not in names


@pytest.mark.parametrize("name, cls", [("TPESampler", "TPESampler"), ("tpe", "TPESampler"),
                                       ("NSGAIISampler", "NSGAIISampler"), ("random", "RandomSampler"),
                                       ("CmaEsSampler", "CmaEsSampler"), ("GPSampler", "GPSampler")])
def test_resolves_names(name, cls):
    assert type(make_sampler(name, Grid(3, 3), seed=0)).__name__ == cls


def test_seed_and_options_are_passed():
    first = make_sampler("RandomSampler", Grid(9), seed=5)
    second = make_sampler("RandomSampler", Grid(9), seed=5)
    draws = [[s.sample_independent(None, None, "x", optuna.distributions.IntDistribution(0, 10**6))
              for _ in range(5)] for s in (first, second)]
    assert draws[0] == draws[1]
    tpe = make_sampler("TPESampler", Grid(3), seed=0, options={"n_startup_trials": 3})
    assert tpe._n_startup_trials == 3


def test_grid_sampler_gets_the_space_as_its_grid():
    sampler = make_sampler("GridSampler", Grid(2, 3), seed=0)
    assert sampler._search_space == {"d0": [0, 1], "d1": [0, 1, 2]}


def test_an_instance_is_used_as_is():
    sampler = optuna.samplers.RandomSampler(seed=1)
    assert make_sampler(sampler, Grid(3), seed=0) is sampler


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        make_sampler("SimulatedAnnealingSampler", Grid(3), seed=0)
    message = str(info.value)
    assert "unknown Optuna sampler 'SimulatedAnnealingSampler'" in message
    assert "'TPESampler'" in message and "'NSGAIISampler'" in message and "'RandomSampler'" in message
    assert "searcher.sampler=" in message


def test_bad_options_are_a_config_error():
    with pytest.raises(ConfigError, match="Optuna sampler TPESampler cannot be built with options .*"
                                          "fix searcher.sampler_kwargs"):
        make_sampler("TPESampler", Grid(3), seed=0, options={"no_such_option": 1})
