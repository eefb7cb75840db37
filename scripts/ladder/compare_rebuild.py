#!/usr/bin/env python3
"""Compare rebuilt ladder adapters with the committed ones (docs/ladder.md, "Reproducing").

    scripts/train-ladder.sh --rungs rlhf --adapters-dir /tmp/rebuild
    python3 scripts/ladder/compare_rebuild.py /tmp/rebuild/manifest.json

For every rung in both manifests: whether the files are byte-identical (sha256), whether the
loss histories match, and the largest absolute difference of the manifest's per-prompt figures
(stored rounded to 4 decimals, so 1e-4 is agreement to the rounding)."""
import json
import os
import sys

FIGURES = ["entropy_0_100", "kl_partition_from_base", "coverage", "expected_reward", "mode_prob"]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    committed = json.load(open(os.path.join(root, "adapters", "ladder", "manifest.json")))["rungs"]
    rebuilt = json.load(open(sys.argv[1]))["rungs"]
    for name in [n for n in rebuilt if n in committed]:
        a, b = committed[name], rebuilt[name]
        worst = max(abs(a[part]["per_prompt"][p][k] - b[part]["per_prompt"][p][k])
                    for part in ["train_prompts", "heldout_prompts"]
                    for p in a[part]["per_prompt"] for k in FIGURES)
        print(f"{name}: same bytes {a['sha256'] == b['sha256']} ({a['sha256'][:8]} vs {b['sha256'][:8]}), "
              f"same losses {a['loss_history'] == b['loss_history']}, largest figure difference "
              f"{worst:.1e}, wall {b['wall_seconds'] / 60:.1f} min (committed {a['wall_seconds'] / 60:.1f})")


if __name__ == "__main__":
    main()
