"""Gating experiment: Fashion-MNIST C2 trained longer; full test accuracy per epoch."""
import sys, time, json, torch
from spikedefense.studies.profiles import make_config
from spikedefense.studies.experiment import _train_classifiers
from spikedefense.data import load_dataset
from spikedefense.models.train import accuracy
work = sys.argv[1]; ds = sys.argv[2]; top = int(sys.argv[3])
torch.set_num_threads(1)
x, y = load_dataset(ds, "train"); xt, yt = load_dataset(ds, "test")
for k in range(2, top + 1):
    cfg = make_config("reproduction", ds, "/tmp/unused", work, classifiers=("C2",),
                      classifier_epochs={"C2": k})
    t = time.time()
    models, logs = _train_classifiers(cfg, x, y, False)
    print(json.dumps({"epochs": k, "s": round(time.time() - t, 1), "test": accuracy(models["C2"], xt, yt)}), flush=True)
