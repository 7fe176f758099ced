"""Gating experiment: continue the 5-epoch shared VAE at a smaller batch (more updates)."""
import sys, copy, json, time, torch
from safetensors.torch import load_file
from spikedefense.data import load_dataset
from spikedefense.models import ConvVAE, make_classifier, train_vae
from spikedefense.models.checkpoint import load_checkpoint
from spikedefense.attacks import make_attack, stratified_indices
from spikedefense.defenses import DefenseVAE
torch.set_num_threads(1)
batch, lr, epochs = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
x, y = load_dataset("mnist", "train"); xt, yt = load_dataset("mnist", "test")
idx = stratified_indices(yt, 1000, seed=0); xs, ys = xt[idx], yt[idx]
p = load_file("exp/mnist/pairs.safetensors"); adv, src = p["adversarial"], p["source"]
models = {}
for n in ("C1", "C2", "C3"):
    m = make_classifier(n); load_checkpoint(f".work/mnist/classifier-{n}", m); models[n] = m.eval()
advs = {n: make_attack("fgsm", 0.3, seed=0)(m, xs, ys) for n, m in models.items()}
vae = ConvVAE(128); load_checkpoint("exp/vae5/defense-vae", vae); vae.eval()
for e in range(epochs):
    t = time.time()
    train_vae(vae, adv, x[src], epochs=1, batch_size=batch, lr=lr, seed=100 + e, progress=False)
    out = {"batch": batch, "lr": lr, "extra_epoch": e + 1, "s": round(time.time() - t)}
    for n, m in models.items():
        with torch.no_grad():
            out[n] = round(100.0 * float((DefenseVAE(vae.eval(), m).predict(advs[n]) == ys).float().mean()), 2)
    print(json.dumps(out), flush=True)
