"""`nas latency build` and `nas search` under a latency table, as a user runs them."""

from __future__ import annotations

import json

import pytest

from nas.cli.main import main
from nas.latency import LatencyTable
from search_spaces.nb201 import NB201SearchSpace

FAST = ["meter.warmup=0", "meter.repeats=2", "build.patience=15", "build.calibration=2", "progress=false"]


def nas(monkeypatch, capsys, cwd, *args: str) -> tuple[int, str, list[str]]:
    monkeypatch.chdir(cwd)
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    """A latency table of the smoke run's space (FMNIST-201's cell on 1x8x8 synthetic images, 4 classes)."""
    path = tmp_path_factory.mktemp("latency") / "fmnist201-synthetic.json"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(path.parent)
        main(["latency", "build", "search_space=fmnist201", "dataset=synthetic", f"output={path}", *FAST])
    return path


def test_latency_build_writes_a_table_for_the_space_and_says_how_to_use_it(table_path, tmp_path, monkeypatch,
                                                                           capsys):
    space = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    table = LatencyTable.load(space, table_path, warn=lambda line: None)
    record = json.loads(table_path.read_text())
    assert record["meter"] == {"batch_size": 1, "threads": 1, "warmup": 0, "repeats": 2, "device": "cpu",
                               "statistic": "median"}
    assert record["layers"] == len(table) - 1 >= 10 and record["space"] == space.spec()
    arch = space.sample(__import__("numpy").random.default_rng(0))
    assert table.predict(arch) == sum(ms for _, ms in table.breakdown(arch))
    code, out, err = nas(monkeypatch, capsys, tmp_path, "latency", "build", "meter.repeats=0")
    assert code == 2 and err == ["error: meter.repeats=0: out of range; use an integer >= 1"]
    code, _, err = nas(monkeypatch, capsys, tmp_path, "latency", "nope")
    assert code == 2 and len(err) == 1 and err[0].startswith("usage: nas latency build")


def test_search_under_a_latency_limit_and_on_the_latency_pareto_front(trained_smoke_run, table_path, tmp_path,
                                                                      monkeypatch, capsys):
    common = ["search", f"train_dir={trained_smoke_run}", "threads=1", "progress=false", "preset=smoke",
              "latency=table", f"latency.path={table_path}"]
    code, out, err = nas(monkeypatch, capsys, tmp_path, *common, "searcher.constraints.max_latency_ms=0.000001",
                         "run_dir=refused")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: searcher.constraints.max_latency_ms=1e-06: no architecture of search space "
                             "'nb201' meets the constraints {'max_latency_ms': 1e-06} (checked 102 children")
    assert not (tmp_path / "refused" / "ranked_children.json").exists()
    code, out, err = nas(monkeypatch, capsys, tmp_path, "search", f"train_dir={trained_smoke_run}", "preset=smoke",
                         "progress=false", "searcher.constraints.max_latency_ms=1", "run_dir=no_model")
    assert code == 2 and len(err) == 1 and "need a latency model: add latency=table" in err[0], err
    space = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    table = LatencyTable.load(space, table_path, warn=lambda line: None)
    bound = table.predict(space.largest())  # the costliest child's: most children are under it
    code, out, err = nas(monkeypatch, capsys, tmp_path, *common, "searcher=nsga2", "searcher.cost_objective=latency",
                         f"searcher.constraints.max_latency_ms={bound}", "run_dir=ok")
    assert code == 0, err
    front = json.loads((tmp_path / "ok" / "pareto_front.json").read_text())
    assert front and all(p["latency_ms"] == table.predict(space.parse(p["arch"])) <= bound for p in front)
