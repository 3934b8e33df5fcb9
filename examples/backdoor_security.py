# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A BadNets backdoor, found by Neural Cleanse and unlearned, on 8x8 digits
#
# An attacker stamps a small white square on 10% of the training images and relabels them 3, so
# the trained network answers 3 whenever the square is there. The defender has the model and a
# small clean set (the validation split), not the trigger. Neural Cleanse reverse-engineers, for
# every label, the smallest mask that sends clean images to it; a label whose mask is much smaller
# than the others' (median absolute deviation test) is flagged, and unlearning removes it.
#
# Small settings so it runs in well under a minute on one core: scikit-learn's 8x8 digits
# (1,797 images) instead of MNIST-5k, 10 epochs, a short Neural Cleanse schedule.
#
# Output folder: the first command-line argument, else `$TRUSTLAB_EXAMPLES_OUT`, else a new
# temporary folder.

# %%
import os
import sys
import tempfile
from pathlib import Path

import torch

from trustlab.backdoor import (
    mitigate,
    parse_trigger,
    plot_norms,
    plot_triggers,
    scan_model,
    train_model,
)
from trustlab.datasets import load_digits8, split_images

OUT = Path(
    sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("TRUSTLAB_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="trustlab-")
)
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

# %% [markdown]
# ## The infected model
# `train_model` poisons the training split (BadNets) and reports clean accuracy and the attack
# success rate (ASR: triggered test images of other classes classified as the target).

# %%
split = split_images(load_digits8(), seed=0)
trigger = parse_trigger("square:2@bottom-right", image_shape=split.train.image_shape)
trained = train_model(split, trigger=trigger, target=3, poison_rate=0.1, epochs=10, seed=0)
print(f"clean accuracy {trained.report['clean_accuracy']:.3f}, ASR {trained.report['asr']:.3f}")

# %% [markdown]
# ## The scan
# Neural Cleanse sees the model and the validation split only. Every label's mask is optimised
# in one batched problem.

# %%
scan = scan_model(trained.model, split, steps=30, seed=0)
for label, norm, index in zip(scan.labels, scan.l1_norms, scan.anomaly_index, strict=True):
    print(f"label {label}: mask L1 norm {norm:5.1f}  anomaly index {index:+.2f}"
          f"{'  <- flagged' if label in scan.flagged else ''}")
plot_norms(scan, OUT / "backdoor_norms.png")
plot_triggers(scan, OUT / "backdoor_triggers.png")

# %% [markdown]
# ## Unlearning
# Fine-tune on clean images stamped with the reversed trigger and their true labels. The true
# trigger is passed only to *measure* the ASR before and after.

# %%
fixed, report = mitigate(trained.model, split, scan, method="unlearn", trigger=trigger, target=3,
                         seed=0)
print(f"flagged {report['flagged']}")
print(f"clean accuracy {report['clean_accuracy_before']:.3f} -> {report['clean_accuracy_after']:.3f}")
if report["asr_before"] is not None:
    print(f"ASR            {report['asr_before']:.3f} -> {report['asr_after']:.3f}")
print("plots written to", OUT)
