#!/usr/bin/env python3
"""Print the manifest's figures as markdown tables (for docs/ladder.md). No dependencies."""
import json, os, sys

man = json.load(open(sys.argv[1] if len(sys.argv) > 1 else
                     os.path.join(os.path.dirname(__file__), "..", "..", "adapters", "ladder", "manifest.json")))
rows = [("base", None, man["base"])] + [(k, v, v) for k, v in man.get("rungs", {}).items()]
print("| rung | steps | wall (min) | train H | train KL | train coverage | train E[r] | held-out H | held-out KL | held-out coverage | held-out E[r] |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, v, f in rows:
    t, h = f["train_prompts"]["mean"], f["heldout_prompts"]["mean"]
    steps = "—" if v is None else v["steps"]
    wall = "—" if v is None else f"{v['wall_seconds'] / 60:.1f}"
    print(f"| `{name}` | {steps} | {wall} | {t['entropy_0_100']:.3f} | {t['kl_partition_from_base']:.3f} | "
          f"{t['coverage']:.3f} | {t['expected_reward']:.3f} | {h['entropy_0_100']:.3f} | "
          f"{h['kl_partition_from_base']:.3f} | {h['coverage']:.3f} | {h['expected_reward']:.3f} |")
prompts = sorted(man["base"]["heldout_prompts"]["per_prompt"])
print()
print("| rung | " + " | ".join(prompts) + " |")
print("|---|" + "---|" * len(prompts))
for name, v, f in rows:
    pp = f["heldout_prompts"]["per_prompt"]
    print(f"| `{name}` | " + " | ".join(
        f"{pp[p]['entropy_0_100']:.2f} (mode {pp[p]['mode']}, {pp[p]['mode_prob']:.2f}; KL {pp[p]['kl_partition_from_base']:.2f})"
        for p in prompts) + " |")
