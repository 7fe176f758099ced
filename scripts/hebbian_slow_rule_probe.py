"""Clean accuracy of the super-active readout on a layer learned by the slow rule (the thesis
preset of :mod:`spikedefense.models.hebbian`), beside the fast-rule layer the registered
``hebbian`` defense uses. A probe, not a tuned result: the preset's settings, fewer epochs than
its 20 (``--epochs``), trained on the same training split (the first 55,000 images), the readout
counted on it, accuracy on the full test set.

Usage::

    python scripts/hebbian_slow_rule_probe.py --data-dir ../shared/data --epochs 5 \\
        --work ../hebbian-work/slow --out results/hebbian/slow_rule_probe.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from spikedefense._atomic import atomic_write_text
    from spikedefense._provenance import provenance
    from spikedefense.data import load_dataset
    from spikedefense.models import SuperActiveReadout, preset, train_hebbian

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    x, y = load_dataset(args.dataset, "train", args.data_dir)
    tx, ty = load_dataset(args.dataset, "test", args.data_dir)
    settings = preset("thesis", epochs=args.epochs)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    layer, history = train_hebbian(x[:55_000], settings,
                                   checkpoint=str(Path(args.work) / "thesis-layer"))  # fmt: skip
    readout = SuperActiveReadout(layer).fit(x[:55_000], y[:55_000])
    accuracy = 100.0 * float((readout(tx).argmax(1) == ty).float().mean())
    result = {"dataset": args.dataset, "settings": settings._asdict(), "history": history,
              "clean_accuracy": accuracy, "test_n": len(ty), "seconds": time.perf_counter() - began,
              "command": " ".join(["python", *sys.argv]), "provenance": provenance()}  # fmt: skip
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"super-active readout on the slow-rule layer: {accuracy:.2f} % clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
