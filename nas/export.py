"""Export a child of a trained supernet: a standalone network with inherited weights, in three formats.

What `nas export` does, as functions of their own (the CLI only reads the run folder and prints):

- :func:`choose_child`: the architecture to export: given (``arch=``), or the ``rank``-th of the run's ranking;
- :func:`inherited_model`: ``space.build_model(arch)`` (the class that ``nas bench build`` trains) holding the
  supernet's weights of ``arch`` (``supernet.subnet(arch)``); options that a supernet builds without affine
  BatchNorm parameters get the identity (weight 1, bias 0), which computes the same function;
- :func:`recalibrate`: BatchNorm running statistics re-estimated on training images with the child alone,
  as the evaluator scores it (an entangled supernet's shared statistics belong to no single child);
- :func:`write_export`: the state dict, the config that rebuilds it, TorchScript and ONNX, each checked against
  the PyTorch model on real images (max |difference| within ``tolerance``) before the folder appears: a failed
  check leaves nothing behind (files are written in a temporary folder that is renamed into place);
- :func:`load_model`: the PyTorch model back from an export folder (config + state dict).

Example:
    >>> import tempfile, torch
    >>> from search_spaces.nb201 import NB201SearchSpace
    >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    >>> supernet = space.build_supernet().eval()
    >>> arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    >>> model = inherited_model(space, supernet, arch)
    >>> x = torch.randn(3, 1, 8, 8)
    >>> bool(torch.allclose(model(x), supernet(x, arch)))
    True
    >>> config = {"search_space": {"_target_": "search_spaces.nb201.NB201SearchSpace", "C": 4, "N": 1,
    ...           "in_channels": 1, "num_classes": 4, "input_size": 8, "reduction": "light"}, "arch": str(arch)}
    >>> folder = write_export(model, config, x, tempfile.mkdtemp() + "/child")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.architecture import Architecture
from nas.data.splits import ImageDataset
from nas.errors import ConfigError, NASError
from nas.run_folder import ExportFolder, ExportManifest, RankedChild, SourceRun
from nas.search_space import SearchSpace
from supernets.base import Supernet

INPUT_NAME, OUTPUT_NAME = "images", "logits"
"""The ONNX graph's input (N, C, H, W float32) and output (N, classes) names; the batch axis is dynamic."""


class ExportError(NASError, RuntimeError):
    """An export that cannot be written or whose files do not compute what the PyTorch model computes."""


# -- which child ---------------------------------------------------------------------------------------------
def choose_child(space: SearchSpace, ranking: Sequence[RankedChild], arch: str | None = None,
                 rank: int | None = None) -> tuple[Architecture, RankedChild | None]:
    """The architecture to export and its row of the ranking (None when the ranking does not hold it).

    ``arch`` (an architecture string of ``space``) wins over ``rank`` (1 = best); neither: the best child.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> a, b = (str(space.sample(__import__("numpy").random.default_rng(s))) for s in (0, 1))
        >>> rows = [RankedChild(1, a, 80.0), RankedChild(2, b, 70.0)]
        >>> choose_child(space, rows, rank=2)[1].score
        70.0
        >>> choose_child(space, rows, rank=3)
        Traceback (most recent call last):
        ...
        nas.errors.ConfigError: rank=3 is beyond the ranking of 2 children; use rank between 1 and 2, or arch=...
    """
    if arch is not None and rank is not None:
        raise ConfigError(f"arch={arch} and rank={rank} both name a child: give one of them")
    if arch is not None:
        chosen = space.parse(str(arch))  # an InvalidArchitectureError names what does not fit the space
        row = next((r for r in ranking if space.parse(r.arch) == chosen), None)
        return chosen, row
    rank = 1 if rank is None else int(rank)
    if not ranking:
        raise ConfigError("the run folder has no ranked children: pass arch=<architecture string>, or rank the "
                          "children first (nas search train_dir=<folder>)")
    if not 1 <= rank <= len(ranking):
        raise ConfigError(f"rank={rank} is beyond the ranking of {len(ranking)} children; use rank between 1 and "
                          f"{len(ranking)}, or arch=...")
    row = sorted(ranking, key=lambda r: r.rank)[rank - 1]
    return space.parse(row.arch), row


def chosen_child_of_run(cfg: Any) -> tuple[SourceRun, SearchSpace, Architecture, RankedChild | None]:
    """What ``nas export`` and ``nas retrain`` start from: the run folder ``cfg.run_dir`` (refused without a trained
    supernet), its search space and the child that ``cfg.arch`` / ``cfg.rank`` name (``rank`` in the order that
    ``cfg.ranking`` chooses: the one the run printed, or the supernet's own), checked before any weights or data
    load; ``cfg.threads`` (when set) applies to torch."""
    from hydra.utils import instantiate

    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    source = SourceRun.of(cfg.run_dir, str(cfg.get("ranking") or "combined"))
    space = instantiate(source.trained.search_space)
    arch, row = choose_child(space, source.ranking, cfg.arch, cfg.rank)
    return source, space, arch, row


# -- the standalone model ------------------------------------------------------------------------------------
def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def inherited_model(space: SearchSpace, supernet: Supernet, arch: Architecture) -> nn.Module:
    """``space.build_model(arch)`` in eval mode with the weights ``supernet.subnet(arch)`` inherits.

    The model is the class the space's ground truth trains, so the config that rebuilds it is the search
    space's and the architecture. BatchNorm parameters or statistics that the supernet does not keep (NAS-Bench-201
    supernets built with ``bn_affine=False`` / ``bn_track_running_stats=False``) are left at their identity
    values (recalibrate to fill the statistics); any other difference is an ExportError.
    """
    arch = space.validate(arch)
    child = supernet.subnet(arch)
    model = space.build_model(arch)
    missing, unexpected = model.load_state_dict(child.state_dict(), strict=False)
    norm_names = {name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    not_norm = [k for k in missing if k.rsplit(".", 1)[0] not in norm_names]
    if unexpected or not_norm:
        raise ExportError(f"supernet.subnet({arch}) does not fit space.build_model's network: unexpected keys "
                          f"{list(unexpected)[:5]}, missing keys {not_norm[:5]}; the space's subnet() and "
                          "build_model() must build the same modules")
    return model.eval()


@torch.no_grad()
def recalibrate(model: nn.Module, batches: Sequence[torch.Tensor]) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``batches`` (a cumulative average), as the
    evaluator's ``bn_policy=recalibrate`` does for a child; other modules stay in eval mode. Returns ``model``
    in eval mode."""
    norms = _batch_norms(model)
    if not batches:
        raise ConfigError("BatchNorm recalibration needs at least one batch of training images")
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    for x in batches:
        model(x)
    for norm in norms:
        norm.momentum = 0.1  # PyTorch's default, for whoever fine-tunes the exported model
    return model.eval()


def recalibration_images(train_x: torch.Tensor, batches: int, batch_size: int, seed: int) -> list[torch.Tensor]:
    """The ``batches`` x ``batch_size`` training images the evaluator recalibrates with (same seed, same picks)."""
    need = int(batches) * int(batch_size)
    if len(train_x) < need:
        raise ConfigError(f"BN recalibration needs {need} training images ({batches} x {batch_size}), the split "
                          f"has {len(train_x)}")
    picks = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(int(seed)))[:need]
    return list(train_x[picks].split(int(batch_size)))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1_000) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode."""
    model.eval()
    hits = sum(int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
               for i in range(0, len(y), batch_size))
    return 100.0 * hits / max(len(y), 1)


def child_of_run(source: SourceRun, space: SearchSpace, arch: Architecture,
                 load_data: Callable[[], ImageDataset], bn_policy: str = "recalibrate"
                 ) -> tuple[nn.Module, ImageDataset]:
    """The standalone child ``arch`` with the weights of the run's trained supernet (a few-shot run: of the
    sub-supernet that owns it), and the run's data. ``bn_policy="recalibrate"`` re-estimates its BatchNorm
    statistics on the training images the run's evaluator recalibrates with, so it scores what the run scored.

    The supernet is loaded before the data: a folder without a finished supernet is a NASError at once.
    """
    from nas.pipeline import load_trained_supernet

    if bn_policy not in ("recalibrate", "running_stats"):
        raise ConfigError(f"unknown bn_policy {bn_policy!r}; choose recalibrate or running_stats")
    supernet = load_trained_supernet(source.train_dir, space)
    data = load_data()
    model = inherited_model(space, supernet, arch)
    if bn_policy == "recalibrate":
        evaluator = source.evaluator
        recalibrate(model, recalibration_images(data.train.x, evaluator.recalibration_batches,
                                                evaluator.recalibration_batch_size, evaluator.seed))
    return model, data


# -- the files -------------------------------------------------------------------------------------------------
def _quiet_export() -> warnings.catch_warnings:
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    warnings.simplefilter("ignore")  # TorchScript's deprecation notes, tracer warnings of constant shapes
    return catcher


def _onnx_outputs(path: Path, x: torch.Tensor) -> torch.Tensor:
    """What onnxruntime computes from ``path`` on ``x`` (CPU)."""
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("ONNX verification needs onnxruntime: python3 -m pip install onnx onnxruntime "
                          "(or the package's `export` extra)") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: x.cpu().numpy()})[0])


def _max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest absolute difference of two outputs (inf when their shapes differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float((a.double() - b.double()).abs().max())


def within(output: torch.Tensor, expected: torch.Tensor, tolerance: float) -> bool:
    """``|output - expected| <= tolerance * (1 + |expected|)`` everywhere: absolute for logits below 1, relative
    above (float32 kernels of two runtimes agree to ~1e-7 of the logits' size).

    Example:
        >>> within(torch.tensor([1.0, 20.0]), torch.tensor([1.0, 20.0001]), 1e-5)
        True
        >>> within(torch.tensor([0.0]), torch.tensor([2e-5]), 1e-5)
        False
    """
    if output.shape != expected.shape:
        return False
    output, expected = output.detach().double(), expected.detach().double()
    return bool(((output - expected).abs() <= tolerance * (1.0 + expected.abs())).all())


def write_export(model: nn.Module, config: dict[str, Any], example: torch.Tensor, folder: str | Path,
                 tolerance: float = 1e-5, opset: int = 17, source: dict[str, Any] | None = None) -> ExportManifest:
    """Write ``model`` (eval mode, CPU) to ``folder`` as a state dict + ``config``, TorchScript and ONNX.

    ``example`` are real input images (N >= 2): TorchScript and ONNX are traced on them and their outputs on
    them must equal the PyTorch model's within ``tolerance`` (max absolute difference), or an ExportError is
    raised and ``folder`` is left as it was. An existing ``folder`` is replaced as a whole once the new one
    passes. Returns the manifest (``export.json``).
    """
    model = model.cpu().eval()
    example = example.cpu().float()
    if example.shape[0] < 2:
        raise ConfigError("the export check needs at least 2 example images")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        files = ExportFolder(staging)
        with torch.no_grad():
            expected = model(example)
        torch.save(model.state_dict(), files.state_dict)
        files.write_config(config)
        catcher = _quiet_export()
        try:
            with torch.no_grad():
                scripted = torch.jit.trace(model, example[:2], check_trace=False)
            scripted.save(str(files.torchscript))
            torch.onnx.export(model, (example[:2],), str(files.onnx), input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset_version=int(opset), dynamo=False,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
            with torch.no_grad():
                outputs = {"state_dict": load_model(staging)(example),
                           "torchscript": torch.jit.load(str(files.torchscript))(example),
                           "onnx": _onnx_outputs(files.onnx, example)}
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"TorchScript / ONNX export failed ({type(exc).__name__}: {str(exc)[:300]})") from None
        finally:
            catcher.__exit__(None, None, None)
        errors = {kind: _max_error(out, expected) for kind, out in outputs.items()}
        for kind, out in outputs.items():
            if not within(out, expected, tolerance):
                raise ExportError(f"the exported {kind} model's outputs differ from PyTorch's by up to {errors[kind]:.3g} "
                                  f"on {len(example)} images, beyond tolerance {tolerance:g} (|a - b| <= tol * (1 + "
                                  "|b|)): nothing was written; raise export.onnx_tolerance only if that is acceptable")
        manifest = ExportManifest(arch=str(config["arch"]), input_shape=list(example.shape[1:]),
                                  num_classes=int(expected.shape[1]), max_abs_error=errors, tolerance=float(tolerance),
                                  checked_images=int(len(example)), opset=int(opset), source=dict(source or {}))
        files.write_manifest(manifest)
        _replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _replace_folder(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an existing ``folder`` is moved aside first and deleted after."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
        os.replace(folder, old / folder.name)
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_model(folder: str | Path) -> nn.Module:
    """The PyTorch model of an export folder, in eval mode: rebuilt from its config, weights loaded.

    Example:
        >>> model = load_model("runs/export/rank1")     # doctest: +SKIP
        >>> model(images).argmax(1)                     # doctest: +SKIP
    """
    from hydra.utils import instantiate

    files = ExportFolder(folder)
    config = files.read_config()
    space = instantiate(config["search_space"])
    model = space.build_model(space.parse(str(config["arch"])))
    state = torch.load(files.state_dict, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
