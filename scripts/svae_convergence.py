"""How close the spiking VAE's reconstructions come to the VAE's as T grows.

Converts a trained Defense-VAE (a checkpoint written by ``spikedefense evaluate``) with 256
calibration test images, runs ``n`` other test images through :class:`SpikingVAE` for each T, and
writes the mean squared error against the VAE's reconstructions (per pixel) and against μ (per
latent unit) to ``OUT.json`` / ``OUT.md``, with the command.

    python scripts/svae_convergence.py --checkpoint .work/mnist/defense-vae --dataset mnist \\
        --out results/svae/mnist_mse_vs_steps
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint stem of a ConvVAE")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=32, help="images to reconstruct")
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    parser.add_argument("--out", required=True, help="output stem (.json and .md are added)")
    args = parser.parse_args()

    from spikedefense._atomic import atomic_write_text
    from spikedefense.convert import vae_to_svae
    from spikedefense.data import load_dataset
    from spikedefense.models import ConvVAE
    from spikedefense.models.checkpoint import load_checkpoint
    from spikedefense.snn.network import reconstruction_error_table

    meta = json.loads(open(args.checkpoint + ".json").read())
    vae = ConvVAE(latent_dim=int(meta.get("config", {}).get("latent_dim", 128)))
    load_checkpoint(args.checkpoint, vae)
    x, _ = load_dataset(args.dataset, "test")
    began = time.perf_counter()
    svae = vae_to_svae(vae.eval(), x[:256])
    rows = reconstruction_error_table(vae, svae, x[256 : 256 + args.n], tuple(args.steps))
    command = shlex.join(["python", *sys.argv])
    payload = {"dataset": args.dataset, "checkpoint": args.checkpoint, "n": args.n,
               "calibration": 256, "percentile": svae.percentile, "rows": rows,
               "seconds": time.perf_counter() - began, "command": command}
    atomic_write_text(args.out + ".json", json.dumps(payload, indent=1))
    lines = [f"# Spiking VAE against the VAE ({args.dataset}, {args.n} test images)", "",
             "Mean squared error between the rate-coded reconstruction of the converted network "
             "(Bernoulli input, non-leaky IF neurons, T steps) and the VAE's reconstruction "
             "through μ; and between the spiking μ readout and the VAE's μ.", "",
             "| T | MSE reconstruction (per pixel) | MSE μ (per latent unit) |", "|---|---|---|"]
    lines += [f"| {r['steps']} | {r['mse']:.2e} | {r['mse_mu']:.2e} |" for r in rows]
    lines += ["", f"Command: `{command}`", ""]
    atomic_write_text(args.out + ".md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
