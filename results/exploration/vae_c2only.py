"""Gating experiment: fine-tune the 5-epoch shared VAE on one classifier's pairs only."""
import sys, copy, json, time, torch
from safetensors.torch import load_file
from spikedefense.data import load_dataset
from spikedefense.models import ConvVAE, make_classifier, train_vae
from spikedefense.models.checkpoint import load_checkpoint
from spikedefense.attacks import make_attack, stratified_indices
from spikedefense.defenses import DefenseVAE
torch.set_num_threads(1)
x, y = load_dataset("mnist", "train"); xt, yt = load_dataset("mnist", "test")
idx = stratified_indices(yt, 1000, seed=0); xs, ys = xt[idx], yt[idx]
p = load_file("exp/mnist/pairs.safetensors"); adv, src = p["adversarial"], p["source"]
models = {}
for n in ("C1", "C2", "C3"):
    m = make_classifier(n); load_checkpoint(f".work/mnist/classifier-{n}", m); models[n] = m.eval()
advs = {n: make_attack("fgsm", 0.3, seed=0)(m, xs, ys) for n, m in models.items()}
base = ConvVAE(128); load_checkpoint("exp/vae5/defense-vae", base); base.eval()
for target in sys.argv[1:]:
    k = int(target[1]) - 1
    keep = (src % 3) == k
    vae = copy.deepcopy(base)
    t = time.time()
    train_vae(vae, adv[keep], x[src[keep]], epochs=2, batch_size=64, seed=0, progress=False)
    out = {"finetuned_on": target, "pairs": int(keep.sum()), "s": round(time.time() - t)}
    for n, m in models.items():
        with torch.no_grad():
            out[n] = round(100.0 * float((DefenseVAE(vae.eval(), m).predict(advs[n]) == ys).float().mean()), 2)
    print(json.dumps(out), flush=True)
