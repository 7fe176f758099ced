"""Gating experiment: MNIST C2 trained longer; clean test accuracy and gray-box FGSM eps 0.3
through a fixed Defense-VAE checkpoint (the 5-epoch one of vae_more.py) per epoch."""
import sys, time, json, torch
from spikedefense.studies.profiles import make_config
from spikedefense.studies.experiment import _train_classifiers
from spikedefense.data import load_dataset
from spikedefense.models import ConvVAE
from spikedefense.models.checkpoint import load_checkpoint
from spikedefense.models.train import accuracy
from spikedefense.attacks import make_attack, stratified_indices
from spikedefense.defenses import DefenseVAE
work, ds, top, vae_stem = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(1)
x, y = load_dataset(ds, "train"); xt, yt = load_dataset(ds, "test")
idx = stratified_indices(yt, 1000, seed=0); xs, ys = xt[idx], yt[idx]
vae = ConvVAE(128); load_checkpoint(vae_stem, vae); vae.eval()
for k in range(2, top + 1):
    cfg = make_config("reproduction", ds, "/tmp/unused", work, classifiers=("C2",),
                      classifier_epochs={"C2": k})
    t = time.time()
    models, _ = _train_classifiers(cfg, x, y, False)
    m = models["C2"]
    adv = make_attack("fgsm", 0.3, seed=0)(m, xs, ys)
    with torch.no_grad():
        g = 100.0 * float((DefenseVAE(vae, m).predict(adv) == ys).float().mean())
        nd = 100.0 * float((m(adv).argmax(1) == ys).float().mean())
    print(json.dumps({"epochs": k, "s": round(time.time() - t, 1), "test": accuracy(m, xt, yt),
                      "fgsm_graybox": round(g, 2), "fgsm_none": round(nd, 2)}), flush=True)
