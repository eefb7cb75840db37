#!/usr/bin/env python3
"""Measure what a llama.cpp server's `n > 1` returns under a fixed seed.

The question behind `max_n` (models/*.yaml): with `"seed": s, "n": 2`, are the two choices two
independent samples, or the same sample twice (both slots seeded alike), which would silently
duplicate samples? For each seed s this sends the body modecollapse sends for a batch (n = 2,
temperature 1.0, every truncation off, `cache_prompt: false`) twice, and the single requests
(n = 1) with seeds s and s + 1, over two prompts with many continuations, and prints, per batch:
whether the two choices are identical, whether the batch repeats exactly, and whether choice j
equals the single sample with seed s + j. The server needs two slots (n_parallel = 2); see
tests/fixtures/wire/capture_sample_n2.py for how to start one.

    python3 scripts/n-choices-check.py http://127.0.0.1:8191/v1 [--seeds 10] [--first 10]
"""
import argparse
import json
import sys
import urllib.request

PROMPTS = [
    ("qa", "Q: Tell me a random integer between 0 and 100.\nA: Ok, the integer is", 6),
    ("story", "Once upon a time", 12),
]


def texts(base, prompt, n, seed, max_tokens):
    body = {
        "model": "gemma-3-270m", "prompt": prompt, "max_tokens": max_tokens, "temperature": 1.0,
        "seed": seed, "n": n, "top_p": 1.0, "cache_prompt": False, "top_k": 0, "min_p": 0.0,
        "typical_p": 1.0, "repeat_penalty": 1.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
    }
    req = urllib.request.Request(f"{base.rstrip('/')}/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        choices = json.loads(r.read())["choices"]
    assert len(choices) == n, f"asked {n} choices, got {len(choices)}"
    return [c["text"] for c in sorted(choices, key=lambda c: c["index"])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_url", nargs="?", default="http://127.0.0.1:8191/v1")
    ap.add_argument("--seeds", type=int, default=10, help="batches per prompt")
    ap.add_argument("--first", type=int, default=10, help="first seed")
    args = ap.parse_args()
    bad = 0
    for name, prompt, max_tokens in PROMPTS:
        dup = repeat = singles = 0
        for seed in range(args.first, args.first + args.seeds):
            batch = texts(args.base_url, prompt, 2, seed, max_tokens)
            again = texts(args.base_url, prompt, 2, seed, max_tokens)
            one = [texts(args.base_url, prompt, 1, seed + j, max_tokens)[0] for j in range(2)]
            dup += batch[0] == batch[1]
            repeat += batch == again
            singles += batch == one
            print(f"{name} seed {seed}: {batch!r}  duplicate={batch[0] == batch[1]} "
                  f"repeats={batch == again} equals_singles(s, s+1)={batch == one}")
        print(f"{name}: {args.seeds} batches of n=2: {dup} with identical choices, {repeat} "
              f"repeat exactly, {singles} equal the single samples with seeds s and s+1\n")
        bad += dup
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
