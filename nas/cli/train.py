"""`nas train`: train a supernet (resumes when its run folder holds a checkpoint).

One process:      nas train trainer.epochs=30 seed=0
N processes:      torchrun --nproc_per_node=N -m nas train trainer.epochs=30 seed=0
                  (or python -m torch.distributed.run --nproc_per_node=N -m nas train ...)
Several machines: on each of the M machines, with its own --node_rank=0..M-1 and rank 0's address,
                  torchrun --nnodes=M --node_rank=K --nproc_per_node=N --master_addr=HOST --master_port=29500 \\
                      -m nas train run_dir=/shared/runs/x ...

Under torchrun ``trainer.batch_size`` is the global batch (each of the N ranks trains on batch_size / N examples
of it; it must divide evenly), every rank trains the same children, gradients are all-reduced once per step,
rank 0 claims the run folder and writes the checkpoints, and a killed job resumes exactly when the same
command is run again (with any number of ranks). ``trainer.distributed.backend`` (auto | gloo | nccl) and
``trainer.distributed.check_every`` (the period of the cross-rank check of the trained children) tune it; see
README, "Scaling out". Multi-node runs need ``run_dir`` on a file system every machine sees.
"""

from __future__ import annotations

import shlex

import hydra
from omegaconf import DictConfig

from nas.cli.common import CONF_DIR, friendly_errors, output_dir, task_overrides
from nas.pipeline import build_distributed, setup, train_stage, training_fingerprint
from nas.run_folder import RunFolder
from nas.validation import validate


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> None:
    validate(cfg)  # every value's type, range and choice: before anything is loaded or written
    out = output_dir()
    folder = RunFolder(out)
    distributed = build_distributed(cfg)  # one rank, or this process's place in a torchrun job
    distributed.local_batch_size(cfg.trainer.batch_size)  # the global batch must split evenly over the ranks
    # rank 0 claims the folder (refused before anything is loaded or written); the others follow or fail with it
    with distributed.main_enters(lambda: folder.claim(cfg, "train", training_fingerprint)):
        data, space = setup(cfg)
        if distributed.is_main:
            print(data.summary())
            if distributed.enabled:
                print(f"{distributed.world_size} ranks ({distributed.backend}): global batch "
                      f"{cfg.trainer.batch_size}, {distributed.local_batch_size(cfg.trainer.batch_size)} per rank")
        trainer = train_stage(cfg, out, data, space, distributed)
    if not distributed.is_main:
        return
    print(f"trained {trainer.state.step} steps in {trainer.state.seconds:.0f} s")
    print(f"checkpoint:  {trainer.checkpoint_path}")
    if folder.balanced_mixture.is_file():  # few_shot=bmos: the learned configuration -> supernet assignment
        print(f"assignment:  {folder.balanced_mixture}")
    print(f"tensorboard: tensorboard --logdir {folder.tensorboard}")
    print(f"next:        {shlex.join(['nas', 'search', f'train_dir={out}', *task_overrides()])}")
