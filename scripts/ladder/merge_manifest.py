#!/usr/bin/env python3
"""Merge the rungs of side manifests (from rungs trained in parallel) into adapters/ladder/manifest.json."""
import json, os, sys
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "ladder")
main_path = os.path.join(here, "manifest.json")
man = json.load(open(main_path))
for side in sys.argv[1:]:
    for k, v in json.load(open(side)).get("rungs", {}).items():
        man.setdefault("rungs", {})[k] = v
with open(main_path, "w") as f:
    json.dump(man, f, indent=2)
    f.write("\n")
print(sorted(man["rungs"]))
