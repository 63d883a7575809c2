"""The README's "Writing a search-space plugin" section, as a user follows it: its code blocks written to files,
pip-installed into a temporary folder, and every command of the section run on it as a subprocess."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nas.cli.test_cli import NAS, SMOKE, TIMEOUT, Done

README = Path(__file__).resolve().parents[3] / "README.md"
RUN_DIR = "runs/run/preset-smoke_search_space.name-{name}_search_space-plugin"


def plugin_section() -> str:
    text = README.read_text()
    start = text.index("### Writing a search-space plugin")
    return text[start:text.index("\n## ", start)]


def readme_files() -> dict[str, str]:
    """Path -> text of every code block of the section whose first line is ``# <path>``."""
    blocks = re.findall(r"```(?:python|toml)\n(# (my_spaces/\S+).*?\n.*?)```", plugin_section(), re.S)
    return {path: text for text, path in blocks}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The README's plugin project written to files and installed with pip: (working folder, environment)."""
    pytest.importorskip("setuptools", reason="setuptools builds the plugin without network")
    cwd = tmp_path_factory.mktemp("plugin")
    files = readme_files()
    assert set(files) == {"my_spaces/pyproject.toml", "my_spaces/my_spaces/__init__.py",
                          "my_spaces/my_spaces/layers.py", "my_spaces/my_spaces/widths.py"}
    for path, text in files.items():
        (cwd / path).parent.mkdir(parents=True, exist_ok=True)
        (cwd / path).write_text(text)
    site = cwd / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--no-input", "--quiet", "--target", str(site), str(cwd / "my_spaces")],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("NAS_DATA", "HYDRA_FULL_ERROR")}
    paths = [str(site), *filter(None, [env.get("PYTHONPATH")])]
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(paths))
    return cwd, env


def nas(plugin, *args: str) -> Done:
    cwd, env = plugin
    done = subprocess.run([*NAS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return Done(done.returncode, done.stdout, done.stderr)


def installed_space(plugin, name: str, monkeypatch, request):
    """The installed plugin's space as `nas` builds it on the smoke data (1x8x8, 4 classes)."""
    monkeypatch.syspath_prepend(plugin[1]["PYTHONPATH"].split(os.pathsep)[0])
    request.addfinalizer(lambda: [sys.modules.pop(k) for k in list(sys.modules) if k.startswith("my_spaces")])
    from nas.registry import create_search_space
    return create_search_space(name, from_dataset={"in_channels": 1, "input_size": 8, "num_classes": 4})


def ranked(folder: Path) -> list[dict[str, str]]:
    with (folder / "ranked_children.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- the default suite: the entangled example trains and searches; a shape the dataset lacks is refused ----------
def test_readme_plugin_trains_and_searches(plugin, monkeypatch, request):
    done = nas(plugin, "run", "search_space=plugin", "search_space.name=widths", *SMOKE, "trainer.epochs=1",
               "report.free_rankers=[]", "report.combined=[]")
    assert done.returncode == 0, done.output[-3000:]
    assert "widths: 5 decisions, 72 architectures" in done.stdout and "Traceback" not in done.stderr
    folder, = (plugin[0] / "runs" / "run").glob("*trainer.epochs-1*")
    rows = ranked(folder)
    assert len(rows) == 12 and len({r["arch"] for r in rows}) == 12
    space = installed_space(plugin, "widths", monkeypatch, request)
    for row in rows:  # the reported costs are the space's analytic ones
        arch = space.parse(row["arch"])
        assert (int(row["params"]), int(row["flops"])) == (space.params(arch), space.flops(arch))


@pytest.mark.parametrize("name, kind, size", [("layers", "shared", 64), ("widths", "entangled", 72)])
def test_readme_examples_derive_their_supernets(plugin, monkeypatch, request, name, kind, size):
    import torch
    space = installed_space(plugin, name, monkeypatch, request)
    supernet = space.build_supernet().eval()
    assert (supernet.kind, space.size) == (kind, size)
    x = torch.randn(4, 1, 8, 8)
    for arch in space.enumerate():
        child = supernet.subnet(arch)
        assert torch.allclose(child(x), supernet(x, arch), atol=1e-6), arch
        assert sum(p.numel() for p in child.parameters()) == space.params(arch)


@pytest.mark.parametrize("name", ["widths"])  # layers: `nas export` in the end-to-end test
def test_readme_plugin_child_exports(plugin, monkeypatch, request, tmp_path, name):
    """`nas export`'s functions on a plugin child: the inherited model computes the supernet's child; its files
    (state dict + config, TorchScript, ONNX) load back and compute the same."""
    export = pytest.importorskip("nas.export")
    pytest.importorskip("onnxruntime")
    import torch
    space = installed_space(plugin, name, monkeypatch, request)
    supernet = space.build_supernet()
    x = torch.randn(8, 1, 8, 8)
    supernet.train()(x, space.largest()).sum().backward()  # BatchNorm statistics away from their defaults
    supernet.eval()
    arch = space.sample(__import__("numpy").random.default_rng(0))
    model = export.inherited_model(space, supernet, arch)
    assert torch.allclose(model(x), supernet(x, arch), atol=1e-6)
    config = {"search_space": {"_target_": "nas.registry.create_search_space", "name": name,
                               "from_dataset": {"in_channels": 1, "input_size": 8, "num_classes": 4}},
              "arch": str(arch)}
    export.write_export(model, config, x, tmp_path / "child")
    assert torch.allclose(export.load_model(tmp_path / "child")(x), model(x), atol=1e-6)


def readme_error_line() -> str:
    return re.search(r"```text\n(error: search space 'widths'.*?)\n```", plugin_section(), re.S).group(1)


def test_readme_plugin_input_that_does_not_fit_the_dataset_is_refused(plugin, monkeypatch, request):
    from nas.data import synthetic
    from nas.space_checks import check_fits_data
    from nas.validation import ConfigValueError
    space = installed_space(plugin, "widths", monkeypatch, request)
    space.input_shape = (1, 16, 16)  # what +search_space.input_size=16 builds
    data = synthetic(train_size=8, valid_size=8, test_size=8, image_size=8, channels=1, num_classes=4)
    with pytest.raises(ConfigValueError) as info:
        check_fits_data(space, data)
    assert [f"error: {p}" for p in info.value.problems] == [readme_error_line()]  # as the README prints it


# -- the full section, on both examples ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["layers", "widths"])
def test_readme_plugin_commands_end_to_end(plugin, name, monkeypatch, request):
    if name == "widths":  # the README's refused command, as the user sees it: one line, exit code 2, no training
        refused = nas(plugin, "run", "search_space=plugin", "search_space.name=widths", *SMOKE,
                      "+search_space.input_size=16")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == readme_error_line()
        assert not list((plugin[0] / "runs").glob("run/*input_size-16*/checkpoints"))
    listed = nas(plugin, "list")
    assert re.search(rf"^\s+{name}\s+my_spaces\.{name}:", listed.stdout, re.M), listed.output
    trained = nas(plugin, "run", "search_space=plugin", f"search_space.name={name}", *SMOKE)
    assert trained.returncode == 0, trained.output[-3000:]
    run_dir = RUN_DIR.format(name=name)
    searched = nas(plugin, "search", f"train_dir={run_dir}", *SMOKE, "searcher=evolution", f"run_dir=search-{name}")
    assert searched.returncode == 0, searched.output[-3000:]
    assert len(ranked(plugin[0] / f"search-{name}")) == 12
    gt = plugin[0] / f"gt_{name}.jsonl"
    built = nas(plugin, "bench", "build", "search_space=plugin", f"search_space.name={name}", "dataset=synthetic",
                "recipe=tiny", "archs.sample=4", f"output={gt}", "progress=false")
    assert built.returncode == 0, built.output[-3000:]
    assert "8 records, 4 complete architectures" in built.stdout
    ranked_run = nas(plugin, "run", "search_space=plugin", f"search_space.name={name}", *SMOKE, "benchmark=table",
                     f"benchmark.oracle.records={gt}")
    assert ranked_run.returncode == 0, ranked_run.output[-3000:]
    assert "Ranking of 4 ground-truth cells" in ranked_run.stdout
    if importlib.util.find_spec("nas.export") is not None:
        exported = nas(plugin, "export", f"run_dir={run_dir}", "threads=1")
        assert exported.returncode == 0, exported.output[-3000:]
        assert (plugin[0] / run_dir / "export" / "rank1" / "model.onnx").is_file()
    space = installed_space(plugin, name, monkeypatch, request)
    best = space.parse(ranked(plugin[0] / run_dir)[0]["arch"])
    model = space.build_model(best)
    assert sum(p.numel() for p in model.parameters()) == space.params(best)
