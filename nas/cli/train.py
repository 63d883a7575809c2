"""`nas train`: train a supernet (resumes when its run folder holds a checkpoint)."""

from __future__ import annotations

import shlex

import hydra
from omegaconf import DictConfig

from nas.cli.common import CONF_DIR, friendly_errors, output_dir, task_overrides
from nas.pipeline import setup, train_stage, training_fingerprint
from nas.run_folder import RunFolder
from nas.validation import validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    out = output_dir()
    folder = RunFolder(out)
    with folder.claim(cfg, "train", training_fingerprint):  # refused before anything is loaded or written
        data, space = setup(cfg)
        print(data.summary())
        trainer = train_stage(cfg, out, data, space)
    print(f"trained {trainer.state.step} steps in {trainer.state.seconds:.0f} s")
    print(f"checkpoint:  {trainer.checkpoint_path}")
    print(f"tensorboard: tensorboard --logdir {folder.tensorboard}")
    print(f"next:        {shlex.join(['nas', 'search', f'train_dir={out}', *task_overrides()])}")
