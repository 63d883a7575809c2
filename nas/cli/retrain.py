"""`nas retrain run_dir=... recipe=fmnist201 seeds=[0,1]`: a run's child trained with a stand-alone recipe."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import statistics

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.cli.common import CONF_DIR, friendly_errors
from nas.export import child_of_run, chosen_child_of_run
from nas.retrain import Retraining, retrain_fingerprint
from nas.run_folder import RetrainFolder, RetrainSummary
from nas.training.execution import resolve_device
from nas.validation import validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="retrain")
@friendly_errors
def main(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    source, space, arch, row = chosen_child_of_run(cfg)  # no trained supernet, a bad arch / rank: before any data
    recipe = instantiate(cfg.recipe)
    recipe_name = HydraConfig.get().runtime.choices.get("recipe") or "recipe"
    name = f"{source.name_prefix}rank{row.rank}" if row is not None else "arch-" + hashlib.sha256(str(arch).encode()).hexdigest()[:10]
    folder = RetrainFolder(cfg.retrain.dir or source.folder.path / "retrain" / f"{name}-{recipe_name}-{cfg.init}")
    device = resolve_device(str(cfg.device))
    load_data = lambda: instantiate(source.trained.dataset)  # noqa: E731
    if cfg.init == "inherited":  # the supernet's weights of the child: refused at once without a finished supernet
        inherited, data = child_of_run(source, space, arch, load_data)
        inherited_state = {k: v.clone() for k, v in inherited.state_dict().items()}

        def make_model() -> torch.nn.Module:
            model = space.build_model(arch)
            model.load_state_dict(inherited_state)
            return model
    else:
        data = load_data()

        def make_model() -> torch.nn.Module:
            return space.build_model(arch)
    recipe_fields = dataclasses.asdict(recipe)
    train_dir = os.path.realpath(source.train_dir)
    command = shlex.join(["nas", "retrain", *[str(o) for o in HydraConfig.get().overrides.task]])
    results = []
    with folder.lock(command):
        for seed in cfg.seeds:
            job = Retraining(make_model, data, recipe, seed, folder.checkpoint(seed),
                             retrain_fingerprint(str(arch), cfg.init, recipe_fields, space.spec(), data.name, seed,
                                                 train_dir),
                             checkpoint_every=int(cfg.retrain.checkpoint_every),
                             tensorboard=folder.tensorboard(seed) if cfg.retrain.tensorboard else None,
                             progress=bool(cfg.progress), device=device, desc=f"retrain seed {seed}")
            results.append(job.fit())
        summary = RetrainSummary(
            arch=str(arch), init=str(cfg.init), recipe_name=recipe_name, recipe=recipe_fields,
            score_key=row.score_key if row else None, score=row.score if row else None,
            rank=row.rank if row else None, ranked_children=len(source.ranking), seeds=results,
            ranked_by=source.ranked_by if row else None,
            eval_split=recipe.eval_split,
            source={"run_dir": str(source.folder.path), "train_dir": str(source.train_dir),
                    "dataset": OmegaConf.to_container(source.trained.dataset, resolve=True)})
        folder.write_summary(summary)
    print(report(summary, folder))


def report(summary: RetrainSummary, folder: RetrainFolder) -> str:
    """The retrained seeds' accuracies, their mean, and the child's supernet score and rank."""
    split = summary.eval_split
    by = f" by {summary.ranked_by}" if summary.ranked_by else ""
    where = (f"rank {summary.rank} of {summary.ranked_children}{by}" if summary.rank is not None
             else "an architecture outside the ranking")
    lines = [f"retrained {where}: {summary.arch}",
             f"recipe {summary.recipe_name} ({summary.recipe['epochs']} epochs on {summary.recipe['train_size']:,} "
             f"images), init {summary.init}, accuracy on {split}",
             f"{'seed':>6}  {split + ' acc':>9}  {'train acc':>9}  {'steps':>6}  {'seconds':>8}"]
    for r in summary.seeds:
        lines.append(f"{r['seed']:>6}  {r['accuracy']:>8.2f}%  {r['train_accuracy']:>8.2f}%  {r['steps']:>6}  "
                     f"{r['seconds']:>8.1f}")
    accuracies = [r["accuracy"] for r in summary.seeds]
    spread = f" ± {statistics.stdev(accuracies):.2f} (std over {len(accuracies)} seeds)" if len(accuracies) > 1 else ""
    lines.append(f"  mean  {statistics.fmean(accuracies):>8.2f}%{spread}")
    if summary.score is not None:
        what = "supernet accuracy" if summary.score_key == "supernet_accuracy" else summary.score_key
        lines.append(f"its {what} in the run: {summary.score:.2f}% (rank {summary.rank} of "
                     f"{summary.ranked_children}{by})")
    lines.append(f"summary:     {folder.summary}")
    lines.append(f"tensorboard: tensorboard --logdir {folder.path}")
    return "\n".join(lines)
