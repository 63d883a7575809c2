"""The entry-point registry: built-ins, errors, and a third-party plugin found on sys.path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nas.errors import RegistryError
from nas.registry import ENTRY_POINT_GROUP, available_search_spaces, create_search_space, search_space_class
from search_spaces.nb201 import NB201SearchSpace

PLUGIN_MODULE = '''
from torch import nn

from nas.search_space import SearchSpace


class TinySpace(SearchSpace):
    name = "tiny"

    def __init__(self, width=4):
        self.width = width

    @property
    def decisions(self):
        return {"width": (self.width, 2 * self.width), "act": ("relu", "tanh", "gelu")}

    def build_supernet(self):
        raise NotImplementedError

    def build_model(self, arch):
        return nn.Linear(2, self.validate(arch)["width"])

    def params(self, arch):
        return 3 * arch["width"]

    def flops(self, arch):
        return 2 * arch["width"]


class NotASpace:
    pass
'''


def write_dist_info(site: Path, package: str, dist_name: str, entry_points: str) -> None:
    """What pip writes for an installed distribution, reduced to what importlib.metadata reads."""
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def forget_modules():
    """Drop the plugin modules a test imported, so that tests do not see each other's plugins."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def test_builtin_nb201_is_registered():
    spaces = available_search_spaces()
    assert spaces["nb201"] == "search_spaces.nb201:NB201SearchSpace"
    assert search_space_class("nb201") is NB201SearchSpace


def test_create_search_space_passes_kwargs():
    space = create_search_space("nb201", C=8, N=1, reduction="light", in_channels=1, input_size=16)
    assert isinstance(space, NB201SearchSpace)
    assert space.size == 15_625
    assert space.spec() == {
        "name": "nb201", "C": 8, "N": 1, "in_channels": 1, "num_classes": 10, "input_size": 16, "reduction": "light"
    }


def test_unknown_name_raises_naming_registered_spaces():
    with pytest.raises(RegistryError) as info:
        create_search_space("nb301")
    message = str(info.value)
    assert "'nb301'" in message
    assert "registered: " in message and "nb201" in message
    assert ENTRY_POINT_GROUP in message
    assert isinstance(info.value, KeyError)  # callers may catch it as a KeyError
    assert not message.startswith('"')  # readable, not KeyError's repr-quoting


def test_plugin_from_dist_info_on_sys_path(tmp_path, monkeypatch, forget_modules):
    package = tmp_path / "tiny_nas_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN_MODULE)
    write_dist_info(
        tmp_path, "tiny_nas_plugin", "tiny-nas-plugin",
        f"[{ENTRY_POINT_GROUP}]\ntiny = tiny_nas_plugin:TinySpace\nbroken = tiny_nas_plugin:NotASpace\n",
    )
    assert "tiny" not in available_search_spaces()
    forget_modules.append("tiny_nas_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))

    spaces = available_search_spaces()
    assert spaces["tiny"] == "tiny_nas_plugin:TinySpace"
    assert "nb201" in spaces  # the built-in is still there

    space = create_search_space("tiny", width=8)
    assert type(space).__name__ == "TinySpace"
    assert type(space).__module__ == "tiny_nas_plugin"
    assert space.size == 6
    archs = list(space.enumerate())
    assert len(set(archs)) == 6
    assert {a["width"] for a in archs} == {8, 16}
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.parse(str(arch)) == arch
        assert space.build_model(arch).out_features == arch["width"]

    with pytest.raises(RegistryError, match="not a SearchSpace subclass"):
        search_space_class("broken")


@pytest.mark.slow
def test_pip_installed_plugin_is_found(tmp_path, monkeypatch, forget_modules):
    """A real plugin project, installed by pip (setuptools backend) into a --target folder."""
    pytest.importorskip("setuptools", reason="setuptools is needed to build the plugin without network")
    project = tmp_path / "project"
    (project / "pip_nas_plugin").mkdir(parents=True)
    (project / "pip_nas_plugin" / "__init__.py").write_text(PLUGIN_MODULE)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "pip-nas-plugin"
        version = "0.1"

        [tool.setuptools]
        packages = ["pip_nas_plugin"]

        [project.entry-points."{ENTRY_POINT_GROUP}"]
        piptiny = "pip_nas_plugin:TinySpace"
        """))
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--no-input", "--quiet", "--target", str(target), str(project)],
        capture_output=True, text=True, timeout=180,
    )
    if result.returncode != 0 and ("setuptools" in result.stderr and "No module named" in result.stderr):
        pytest.skip(f"cannot build without setuptools: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(target.glob("pip_nas_plugin-0.1.dist-info/entry_points.txt"))

    assert "piptiny" not in available_search_spaces()
    forget_modules.append("pip_nas_plugin")
    monkeypatch.syspath_prepend(str(target))
    assert available_search_spaces()["piptiny"] == "pip_nas_plugin:TinySpace"
    space = create_search_space("piptiny")
    assert type(space).__module__ == "pip_nas_plugin"
    assert space.size == 6
    assert len(set(space.enumerate())) == 6
    assert space.validate(space.sample(np.random.default_rng(0)))
