"""Helper process for test_loop.py: trains the smoke config in a folder, slowly enough to be killed.

usage: python resume_worker.py OUTPUT_DIR STEP_DELAY_SECONDS
"""

import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from nas.cli.common import CONF_DIR
from nas.pipeline import setup, train_stage
from nas.training import Trainer

torch.set_num_threads(1)
out, delay = Path(sys.argv[1]), float(sys.argv[2])
original = Trainer.train_step


def slow_step(self, *args, **kwargs):
    time.sleep(delay)
    return original(self, *args, **kwargs)


Trainer.train_step = slow_step
with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="train"):
    cfg = compose("train", overrides=["preset=smoke", "trainer.epochs=4", "trainer.checkpoint_every=3",
                                      "progress=false", "trainer.tensorboard=false"])
data, space = setup(cfg)
trainer = train_stage(cfg, out, data, space)
torch.save(trainer.supernet.state_dict(), out / "final_weights.pt")
print("finished", trainer.state.step)
