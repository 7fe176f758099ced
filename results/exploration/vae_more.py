"""Gating experiment: MNIST Defense-VAE trained longer on the same pairs; gray-box FGSM eps 0.3."""
import sys, time, json, torch
from spikedefense.studies.profiles import make_config
from spikedefense.studies.experiment import _train_classifiers, _pairs
from spikedefense.data import load_dataset
from spikedefense.attacks import make_attack, stratified_indices
from spikedefense.models import ConvVAE, train_vae
from spikedefense.defenses import DefenseVAE
work = sys.argv[1]; ds = sys.argv[2]; top = int(sys.argv[3])
torch.set_num_threads(1)
cfg = make_config("reproduction", ds, "/tmp/unused", work, e2e=False)
x, y = load_dataset(ds, "train"); xt, yt = load_dataset(ds, "test")
models, _ = _train_classifiers(cfg, x, y, False)
adv_pairs, src = _pairs(cfg, models, x[:cfg.pair_limit], y[:cfg.pair_limit], False)
idx = stratified_indices(yt, 1000, seed=0); xs, ys = xt[idx], yt[idx]
advs = {n: make_attack("fgsm", 0.3, seed=0)(m, xs, ys) for n, m in models.items()}
for k in range(2, top + 1):
    torch.manual_seed(0); vae = ConvVAE(cfg.latent_dim)
    t = time.time()
    train_vae(vae, adv_pairs, x[src], epochs=k, batch_size=cfg.vae_batch_size, seed=0,
              checkpoint=f"{work}/defense-vae", progress=False,
              sidecar={"kind": "vae", "config": {"latent_dim": cfg.latent_dim},
                       "data": {"dataset": ds, "pairs": len(adv_pairs)}})
    out = {"epochs": k, "train_s": round(time.time() - t, 1)}
    for n, m in models.items():
        d = DefenseVAE(vae.eval(), m)
        with torch.no_grad():
            out[n] = round(100.0 * float((d.predict(advs[n]) == ys).float().mean()), 2)
            out[n + "_clean"] = round(100.0 * float((d.predict(xs) == ys).float().mean()), 2)
    print(json.dumps(out), flush=True)
