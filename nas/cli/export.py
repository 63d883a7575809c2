"""`nas export run_dir=...`: the run's best child (or rank=k / arch=...) as PyTorch, TorchScript and ONNX files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.cli.common import CONF_DIR, friendly_errors
from nas.export import INPUT_NAME, OUTPUT_NAME, accuracy, child_of_run, chosen_child_of_run, write_export
from nas.run_folder import ExportFolder
from nas.validation import validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
@friendly_errors
def main(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    torch.manual_seed(int(cfg.seed))
    source, space, arch, row = chosen_child_of_run(cfg)  # no trained supernet, a bad arch / rank: before the weights
    model, data = child_of_run(source, space, arch, lambda: instantiate(source.trained.dataset),
                               cfg.export.bn_policy)  # an unfinished or missing supernet: one line, before the data
    evaluator = source.evaluator
    valid = data.valid.head(evaluator.valid_size)
    exported_accuracy = accuracy(model, valid.x, valid.y)
    if row is not None:
        name = f"{source.name_prefix}rank{row.rank}"
    else:
        name = "arch-" + hashlib.sha256(str(arch).encode()).hexdigest()[:10]
    folder = Path(cfg.export.dir) if cfg.export.dir else source.folder.path / "export" / name
    config = {"search_space": OmegaConf.to_container(source.trained.search_space, resolve=True),
              "arch": str(arch),
              "dataset": OmegaConf.to_container(source.trained.dataset, resolve=True)}
    provenance = {"run_dir": str(source.folder.path), "train_dir": str(source.train_dir),
                  "rank": row.rank if row else None, "ranked_by": source.ranked_by,
                  "children_ranked": len(source.ranking),
                  row.score_key if row else "supernet_accuracy": row.score if row else None,
                  "exported_valid_accuracy": round(exported_accuracy, 4), "valid_images": len(valid),
                  "bn_policy": cfg.export.bn_policy}
    manifest = write_export(model, config, data.valid.x[: cfg.export.check_images], folder,
                            tolerance=float(cfg.export.onnx_tolerance), opset=int(cfg.export.opset),
                            source=provenance)
    files = ExportFolder(folder)
    where = (f"rank {row.rank} of {len(source.ranking)} by {source.ranked_by}" if row
             else "an architecture outside the ranking")
    score = f"supernet accuracy {row.score:.2f}%, " if row and row.score_key == "supernet_accuracy" else ""
    errors = manifest.max_abs_error
    shape = "x".join(str(s) for s in manifest.input_shape)
    print(f"exported {where}: {arch}")
    print(f"  {score}exported model {exported_accuracy:.2f}% on {len(valid)} valid images "
          f"(BatchNorm: {cfg.export.bn_policy}); {space.params(arch):,} params, {space.flops(arch):,} FLOPs")
    print(f"  input: float32 (N, {shape.replace('x', ', ')}) named {INPUT_NAME!r}, as {source.trained.dataset._target_} "
          f"prepares it; output: (N, {manifest.num_classes}) {OUTPUT_NAME!r}")
    print(f"PyTorch:     {files.state_dict} + {files.model_config.name} (max |diff| {errors['state_dict']:.1e})")
    print(f"             model = nas.export.load_model({str(folder)!r})")
    print(f"TorchScript: {files.torchscript} (max |diff| {errors['torchscript']:.1e})")
    print(f"             model = torch.jit.load({str(files.torchscript)!r})")
    print(f"ONNX:        {files.onnx} (onnxruntime, max |diff| {errors['onnx']:.1e} <= {manifest.tolerance:g} on "
          f"{manifest.checked_images} images, opset {manifest.opset})")
    print(f"             onnxruntime.InferenceSession({str(files.onnx)!r}).run([{OUTPUT_NAME!r}], "
          f"{{{INPUT_NAME!r}: images}})")
    print(f"manifest:    {files.manifest}")

