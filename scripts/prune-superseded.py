#!/usr/bin/env python3
"""Drops logprob responses that a deeper request for the same node has superseded.

Usage: python3 scripts/prune-superseded.py recordings/SET/MODEL.jsonl

When a model's `enumerate_min_top_k` (or a spec's `top_k`) is raised and the set re-recorded,
every node is recorded again with the longer list and the old short-list lines stay in the file
unused. This keeps, per (prompt, continuation), only the line with the largest `top_k`, leaves
every other line (samples, other prompts) as it is, and rewrites the closing count + SHA-256 line
as the recording format (version 2) defines it: SHA-256 over each preceding line and a newline.
The file is replaced atomically. Nothing is re-requested or altered: kept lines are byte-equal.
"""
import hashlib, json, os, sys

path = sys.argv[1]
lines = open(path, encoding="utf-8").read().split("\n")
assert lines[-1] == "", "expected a final newline"
lines = lines[:-1]
trailer = json.loads(lines[-1])
assert trailer.get("end") == "modecollapse-recording", "no closing line"
body = lines[:-1]
best = {}
for i, l in enumerate(body):
    d = json.loads(l)
    if "top_k" in d:
        node = (d["prompt"], d["api"], d["model"], tuple(d.get("prompt_ids", [])),
                tuple(d.get("ids", [])), d.get("text", ""))
        if node not in best or d["top_k"] > best[node][0]:
            best[node] = (d["top_k"], i)
keep_rows = {i for _, i in best.values()}
out, dropped = [], 0
for i, l in enumerate(body):
    d = json.loads(l)
    if "top_k" in d and i not in keep_rows:
        dropped += 1
        continue
    out.append(l)
h = hashlib.sha256()
for l in out:
    h.update(l.encode("utf-8") + b"\n")
closing = json.dumps({"end": "modecollapse-recording", "lines": len(out), "sha256": h.hexdigest()},
                     separators=(",", ":"))
tmp = path + ".prune.tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write("\n".join(out + [closing]) + "\n")
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, path)
print(f"{path}: dropped {dropped} superseded responses, kept {len(out)} lines")
