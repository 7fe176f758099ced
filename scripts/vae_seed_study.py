"""Defense-VAE with and without sleep for one Defense-VAE seed, on the reproduction's classifiers.

The sleep results (``results/sleep/``) vary only the sleep seed: one awake Defense-VAE. This
script trains the Defense-VAE again with another seed (``--vae-seed``; same pairs, epochs and
batch size) and repeats the with/without-sleep comparison on it, so that the effect of sleep can
be set against the spread between awake VAEs. It reuses the reproduction's classifiers and
training pairs from ``--work`` (linked into a work folder of its own) and runs a reduced protocol
of ``spikedefense evaluate --profile reproduction --sleep``: the shared Defense-VAE only (no E2E
copies), clean accuracy on 2,000 stratified test images, gray-box FGSM and RAND+FGSM at
ε = 0.3 on 500, adaptive PGD on 200; no CW, no black-box substitute. Sleep seeds 0, 1, 2 as there.
``--protocol full`` runs that profile unreduced instead (E2E copies fine-tuned from this seed's
Defense-VAE, gray-box CW, the C4 black-box substitute), so its tables match ``results/sleep/``.

Usage::

    python scripts/vae_seed_study.py --dataset mnist --source .work/mnist --vae-seed 1 \\
        --out results/sleep-vae-seeds/mnist/vae-seed-1 --work .work/vae-seeds/mnist-1

``--vae-seed 0`` re-evaluates the reproduction's own Defense-VAE under the same reduced protocol
(its checkpoint is linked, not retrained). ``--n-sleep N`` lets each VAE sleep on N images instead
of 100 (a longer sleep). ``scripts/vae_seed_summary.py`` tabulates the runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

SHARED = ("classifier-C1", "classifier-C2", "classifier-C3")


def link_inputs(source: Path, work: Path, vae_seed: int) -> None:
    """Link the trained classifiers and the pair cache (and for seed 0 the VAE) into ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    stems = SHARED + (("defense-vae",) if vae_seed == 0 else ())
    names = [f"{s}{ext}" for s in stems for ext in (".json", ".safetensors")]
    for name in [*names, "pairs.safetensors"]:
        target = (source / name).resolve()
        if not target.is_file():
            raise FileNotFoundError(f"{target}: run the awake reproduction first (--source)")
        link = work / name
        if link.is_symlink() or link.exists():
            if link.resolve() != target:
                raise FileExistsError(f"{link} exists and is not a link to {target}")
            continue
        link.symlink_to(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), required=True)
    parser.add_argument("--source", required=True, help="work folder of the awake reproduction")
    parser.add_argument("--vae-seed", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--work", required=True, help="this run's own work folder")
    parser.add_argument("--n-sleep", type=int, default=100,
                        help="adversarial training images each VAE sleeps on (default 100)")
    parser.add_argument("--protocol", choices=("reduced", "full"), default="reduced",
                        help="reduced (default): no E2E, CW or black-box; full: the whole "
                        "reproduction sleep protocol")
    args = parser.parse_args(argv)
    if args.vae_seed < 0:
        parser.error("--vae-seed: expected an int >= 0")
    if args.n_sleep < 1:
        parser.error("--n-sleep: expected an int >= 1")

    from spikedefense.studies.profiles import make_sleep_config
    from spikedefense.studies.sleep_experiment import run_sleep_experiment

    link_inputs(Path(args.source), Path(args.work), args.vae_seed)
    command = shlex.join(["python", "scripts/vae_seed_study.py", *(argv or sys.argv[1:])])
    config = make_sleep_config(
        "reproduction", args.dataset, args.out, args.work, command=command
    )
    experiment = replace(config.experiment, vae_seed=args.vae_seed)
    if args.protocol == "reduced":
        evaluation = replace(
            config.experiment.evaluation,
            graybox_attacks=("fgsm", "rand-fgsm"),
            graybox_other_attacks=("fgsm", "rand-fgsm"),
            adaptive_attacks=("pgd",),
            substitute=None,
        )
        experiment = replace(experiment, evaluation=evaluation, e2e=False)
    paths = run_sleep_experiment(replace(config, experiment=experiment, n_sleep=args.n_sleep))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
