#!/usr/bin/env python3
"""Independent check of the figures `modecollapse` reports for model set `local`.

Usage: python3 scripts/independent_check.py [--json FILE] [--prompts NAME,NAME,...]

FILE is the output of `cargo run -q -- run --models local --format json`; without it the script
runs `cargo run -q --release -- run --models local --format json` from the repo root. With
--prompts only the measurements of the prompts so named are checked (the others are counted as
not checked, in the summary): each distinct prompt text costs 103 requests a model, about a minute
on two cores, so `.ci/run` checks two of the six texts and a full check is this script alone.

What is checked. For every claim x measurement of model set `local` made with a logprob method
(whose intervals are guaranteed bounds), the exact distribution over the outcomes " 0".." 100" is
recomputed from the live llama.cpp servers, and:
  (a) exact entropy H (nats) lies in [entropy_low - 1e-6, entropy_high + 1e-6];
  (b) exact coverage lies in [coverage_low - 1e-6, coverage_high + 1e-6];
  (c) every outcome in `distribution` has exact q(N) in [p_low - 1e-6, p_high + 1e-6]; for
      outcomes absent from `distribution` the largest exact q(N) is reported;
  (d) `mode` equals the exact argmax whenever `mode_certain` is true;
  (e) exact q(mode) lies in [mode_prob_low - 1e-6, mode_prob_high + 1e-6];
  (f) for `enumerate` with the model's vocabulary known (the JSON's measurement has no
      "no tokenizer" warning and the model set declares one): the point entropy is within
      0.005 nats of the exact H and the interval is at most 0.01 nats wide.

Measurements of the `sample` method carry 95% confidence intervals, not bounds: they are printed
as INFO lines (exact value against the interval) and never fail the check.

Definition (README): P(N) = probability that the continuation starts with " N" (canonical decimal)
and the next character is not a digit, or generation ends; coverage = sum P(N); q = P/coverage.

Why it is independent. It does not use modecollapse's code, recordings or tree search: prompt texts
are read from the spec YAML files (own tiny block-scalar reader), token ids come from the servers'
/tokenize, and P(N) is a plain product over a fixed digit chain, each factor read with top-1000
logprobs (modecollapse explores with top_k 20 below the root and bounds what it does not see):
  P(N) = P(" " | prompt) * prod_i P(digit_i | prompt, " ", digits before i) * P(stop | " N"),
  P(stop | " N") = 1 - sum of listed tokens whose text starts with an ASCII digit.
Every node is one POST /v1/completions with "prompt": [text, space_id, digit ids...],
"max_tokens": 1, "logprobs": 1000, "cache_prompt": false (the prompt cache changes logprobs);
each prefix is requested once per (model, prompt text), i.e. 103 requests.

Vocabulary. The vocabulary is read from the GGUF files (own reader below; paths from
MODECOLLAPSE_GEMMA_GGUF / MODECOLLAPSE_SMOLLM_GGUF, as `scripts/local-models.sh env` prints) to
list every token whose text starts with an ASCII digit (gemma: "0".."9" and the byte tokens
<0x30>..<0x39>). Those not in a node's top 1000 are bounded by the node's 1000th probability;
`vocab_residual` is the largest such bound relative to the node, so the exact figures below are
exact up to it (reported; ~1e-5 or less).

Assumption. Only the canonical tokenisation of " N" (" ", then one token per digit) is counted;
both tokenizers split digits, so this is the tokenisation the models were trained on. What it can
miss is bounded at the root by `alt_mass_bound`: the mass of listed root tokens other than the space
token whose text is exactly " " or starts with " " followed by a digit (should be 0), plus the root
mass outside the top 1000. `max_unseen` is the largest mass outside the top 1000 at any node, and
`nc_digit` the largest listed mass of digit-initial tokens that are not single digits (both ~0).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URLS = {
    "gemma-3-270m": os.environ.get("MODECOLLAPSE_GEMMA_URL", "http://127.0.0.1:8091/v1"),
    "smollm2-135m-instruct": os.environ.get("MODECOLLAPSE_SMOLLM_URL", "http://127.0.0.1:8092/v1"),
}
TOL = 1e-6
TOP = 1000


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)


def spec_prompts(path):
    """{name: text} for the `prompts:` list of a spec: `- name: X` followed by `text: |-`."""
    lines, out, name, i = open(path, encoding="utf-8").read().split("\n"), {}, None, 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("- name:"):
            name = s[len("- name:"):].strip().strip("'\"")
        elif s == "text: |-" and name is not None:
            key_indent = len(lines[i]) - len(lines[i].lstrip())
            block, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > key_indent):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():  # `|-`: strip trailing blank lines and newline
                block.pop()
            indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
            out[name] = "\n".join(b[indent:] for b in block)
            name = None
            continue
        i += 1
    return out


GGUF_ENV = {"gemma-3-270m": "MODECOLLAPSE_GEMMA_GGUF",
            "smollm2-135m-instruct": "MODECOLLAPSE_SMOLLM_GGUF"}


def gguf_digit_initial(path):
    """Ids of the tokens whose decoded text starts with an ASCII digit, read from a GGUF
    file's `tokenizer.ggml.tokens` / `token_type` (SentencePiece `<0xNN>` byte tokens decode
    to their byte; GPT-2 byte-level stand-ins are ASCII for digits)."""
    import struct
    f = open(path, "rb")
    rd = lambda n: f.read(n)
    u32 = lambda: struct.unpack("<I", rd(4))[0]
    u64 = lambda: struct.unpack("<Q", rd(8))[0]
    s = lambda: rd(u64())
    assert rd(4) == b"GGUF", path
    u32(); u64(); kvs = u64()
    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def value(t):
        if t == 8:
            return s()
        if t == 9:
            et, n = u32(), u64()
            if et in (8, 9):
                return [value(et) for _ in range(n)]
            if et == 5:
                return list(struct.unpack(f"<{n}i", rd(4 * n)))
            rd(size[et] * n)
            return None
        return rd(size[t])
    tokens = types = None
    for _ in range(kvs):
        k, t = s(), u32()
        v = value(t)
        if k == b"tokenizer.ggml.tokens":
            tokens = v
        elif k == b"tokenizer.ggml.token_type":
            types = v
        if tokens is not None and types is not None:
            break
    out = []
    for i, (tok, ty) in enumerate(zip(tokens, types)):
        if ty == 6 and tok.startswith(b"<0x"):
            text = bytes([int(tok[3:-1], 16)])
        elif ty in (2, 3, 5):
            continue
        else:
            text = tok
        if text[:1].isdigit():
            out.append(i)
    return out


def digit_ids(base):
    """Ids of " " and "0".."9", checking the pieces /tokenize returns."""
    toks = post(base[:-3] + "/tokenize", {"content": " 0123456789", "with_pieces": True})["tokens"]
    pieces = [t["piece"] for t in toks]
    assert pieces == [" "] + list("0123456789"), f"{base}: unexpected pieces {pieces}"
    return toks[0]["id"], [t["id"] for t in toks[1:]]


def node(base, text, ids):
    """Top-1000 distribution after text+ids: ({id: prob}, {id: bytes})."""
    body = {"prompt": [text] + ids, "max_tokens": 1, "logprobs": TOP, "temperature": 0,
            "cache_prompt": False}
    top = post(base + "/completions", body)["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert len(top) == TOP, f"expected {TOP} top logprobs, got {len(top)}"
    return {t["id"]: math.exp(t["logprob"]) for t in top}, {t["id"]: bytes(t["bytes"]) for t in top}


def exact(base, text, digit_initial):
    """Exact P(N) for N = 0..100 plus diagnostics, from 103 requests."""
    sp, dig = digit_ids(base)
    prefixes = [(), (sp,)] + [(sp, dig[a]) for a in range(10)]
    prefixes += [(sp, dig[a], dig[b]) for a in range(1, 10) for b in range(10)]
    prefixes += [(sp, dig[1], dig[0], dig[0])]
    with ThreadPoolExecutor(max_workers=2) as pool:  # at most 2 requests in flight
        got = dict(zip(prefixes, pool.map(lambda p: node(base, text, list(p)), prefixes)))
    diag = {"max_unseen": max(1 - sum(pr.values()) for pr, _ in got.values()), "nc_digit": 0.0}
    # Digit-initial tokens outside a node's top 1000 hold at most its 1000th probability each.
    diag["vocab_residual"] = max(
        sum(1 for i in digit_initial if i not in pr) * min(pr.values()) for pr, _ in got.values())
    root_p, root_b = got[()]
    diag["alt_mass_bound"] = (1 - sum(root_p.values())) + sum(
        p for i, p in root_p.items() if i != sp and (root_b[i] == b" " or (
            root_b[i][:1] == b" " and root_b[i][1:2].isdigit())))

    def prob(prefix, tok):
        pr = got[prefix][0]
        assert tok in pr, f"token {tok} not in the top {TOP} after {prefix}"
        return pr[tok]

    P = []
    for n in range(101):
        chain, p = (sp,), prob((), sp)
        for ch in str(n):
            p *= prob(chain, dig[int(ch)])
            chain += (dig[int(ch)],)
        pr, by = got[chain]
        digit_mass = sum(q for i, q in pr.items() if by[i][:1].isdigit())
        diag["nc_digit"] = max(diag["nc_digit"], digit_mass - sum(pr.get(d, 0.0) for d in dig))
        P.append(p * (1 - digit_mass))
    return P, diag


def within(x, lo, hi):
    return lo - TOL <= x <= hi + TOL


def check(m, P, diag):
    """Failure messages for one measurement, and the summary line."""
    cov = sum(P)
    q = [p / cov for p in P]
    H = -sum(x * math.log(x) for x in q if x > 0)
    argmax = max(range(101), key=lambda n: q[n])
    fails = []
    if not within(H, m["entropy_low"], m["entropy_high"]):
        fails.append(f"(a) entropy {H:.9f} outside [{m['entropy_low']:.9f}, {m['entropy_high']:.9f}]")
    if not within(cov, m["coverage_low"], m["coverage_high"]):
        fails.append(f"(b) coverage {cov:.9f} outside [{m['coverage_low']:.9f}, "
                     f"{m['coverage_high']:.9f}]")
    listed = set()
    for d in m["distribution"]:
        n = d["outcome"]
        listed.add(n)
        if not within(q[n], d["p_low"], d["p_high"]):
            fails.append(f"(c) q({n}) = {q[n]:.9f} outside [{d['p_low']:.9f}, {d['p_high']:.9f}] "
                         f"(point {d['p']:.9f})")
    missing = [n for n in range(101) if n not in listed]
    max_missing = max((q[n] for n in missing), default=0.0)
    if m.get("mode_certain") and m["mode"] != argmax:
        fails.append(f"(d) mode {m['mode']} (certain) but exact argmax is {argmax} "
                     f"(q = {q[m['mode']]:.6f} vs {q[argmax]:.6f})")
    if not within(q[m["mode"]], m["mode_prob_low"], m["mode_prob_high"]):
        fails.append(f"(e) q(mode {m['mode']}) = {q[m['mode']]:.9f} outside "
                     f"[{m['mode_prob_low']:.9f}, {m['mode_prob_high']:.9f}]")
    line = (f"H={H:.6f} mc=[{m['entropy_low']:.6f}, {m['entropy']:.6f}, {m['entropy_high']:.6f}]  "
            f"cov={cov:.6f} mc={m['coverage']:.6f} [{m['coverage_low']:.6f}, "
            f"{m['coverage_high']:.6f}]  mode={argmax} mc={m['mode']}"
            f"{'(certain)' if m.get('mode_certain') else '(uncertain)'}  "
            f"missing={len(missing)} max_q_missing={max_missing:.2e} "
            f"unresolved={m.get('unresolved_mass', float('nan')):.2e}  "
            f"alt_mass_bound={diag['alt_mass_bound']:.2e} max_unseen={diag['max_unseen']:.2e} "
            f"nc_digit={diag['nc_digit']:.2e} vocab_residual={diag['vocab_residual']:.2e}")
    exact_enumeration = m.get("method") == "enumerate" and not any(
        "tokenizer" in w for w in m.get("warnings", []))
    if exact_enumeration:
        if abs(m["entropy"] - H) > 0.005:
            fails.append(f"(f) point entropy {m['entropy']:.6f} is {abs(m['entropy'] - H):.6f} "
                         f"from the exact {H:.6f} (more than 0.005)")
        if m["entropy_high"] - m["entropy_low"] > 0.01:
            fails.append(f"(f) entropy interval {m['entropy_high'] - m['entropy_low']:.6f} "
                         "nats wide (more than 0.01)")
    return fails, line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="output of `modecollapse run --models local --format json`")
    ap.add_argument("--prompts", help="comma-separated prompt names: check only these")
    args = ap.parse_args()
    only = set(args.prompts.split(",")) if args.prompts else None
    if args.json:
        report = json.load(open(args.json, encoding="utf-8"))
    else:
        cmd = ["cargo", "run", "-q", "--release", "--", "run", "--models", "local", "--format", "json"]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if run.returncode not in (0, 1):  # 1 = a strict claim failed; the JSON is still complete
            sys.exit(f"`{' '.join(cmd)}` exited {run.returncode}:\n{run.stderr.strip()}")
        report = json.loads(run.stdout)
    rows = []  # (claim id, measurement, prompt text)
    for claim in report["claims"]:
        o = claim.get("outcomes", {})
        if (o.get("kind"), o.get("prefix"), o.get("lo"), o.get("hi")) != ("integers", " ", 0, 100):
            # Choices, categories and classifiers (the question set, the greentext) have no
            # exact-enumeration counterpart here; they are named, not silently dropped.
            print(f"SKIP {claim['id']}: outcome set of kind {o.get('kind')!r} is outside this check")
            continue
        texts = spec_prompts(os.path.join(ROOT, claim["file"]))
        for ms in claim["model_sets"]:
            if ms["model_set"] == "local":
                rows += [(claim["id"], m, texts[m["prompt"]]) for m in ms["measurements"]]
    n_unchecked = 0
    if only is not None:
        unknown_prompts = only - {r[1]["prompt"] for r in rows}
        if unknown_prompts:
            sys.exit(f"--prompts: no measurement of model set `local` has the prompt(s) "
                     f"{sorted(unknown_prompts)}")
        n_unchecked = sum(r[1]["prompt"] not in only for r in rows)
        rows = [r for r in rows if r[1]["prompt"] in only]
    cache, vocab, n_fail, n_pass, n_skip, n_info = {}, {}, 0, 0, 0, 0
    for model in URLS:  # one model at a time: the two servers share the cores
        for cid, m, text in (r for r in rows if r[1]["model"] == model):
            if (model, text) not in cache:
                if model not in vocab:
                    path = os.environ.get(GGUF_ENV[model])
                    if not path:
                        sys.exit(f"set {GGUF_ENV[model]} to the model's GGUF file "
                                 "(`eval \"$(scripts/local-models.sh env)\"`)")
                    vocab[model] = gguf_digit_initial(path)
                cache[model, text] = exact(URLS[model], text, vocab[model])
            if m.get("status") != "measured":
                n_skip += 1
                print(f"SKIP {cid} {model} {m['prompt']}: status {m.get('status')}")
                continue
            fails, line = check(m, *cache[model, text])
            if m.get("method") == "sample":
                # Sampled intervals are 95% confidence intervals, not guaranteed bounds: one
                # that misses the exact value is information (and the measurement's warnings
                # say when to expect it), not a failure of the check.
                n_info += 1
                warn = " [warned: " + "; ".join(m.get("warnings", [])) + "]" if m.get("warnings") else ""
                print(f"INFO {cid} / {model} / {m['prompt']}: {line}{warn}")
                for f in fails:
                    print(f"    outside its interval: {f}")
                sys.stdout.flush()
                continue
            n_fail, n_pass = n_fail + bool(fails), n_pass + (not fails)
            print(f"{'FAIL' if fails else 'PASS'} {cid} / {model} / {m['prompt']}: {line}")
            for f in fails:
                print(f"    {f}")
            sys.stdout.flush()
    unknown = {r[1]["model"] for r in rows} - set(URLS)
    if unknown:
        print(f"FAIL: measurements for unknown models {sorted(unknown)}")
        n_fail += 1
    print(f"\nsummary: {n_pass} pass, {n_fail} fail, {n_skip} skipped, {n_info} sampled (information), "
          f"{len(cache)} (model, prompt) distributions computed exactly"
          + (f", {n_unchecked} measurements of other prompts not checked (--prompts)" if only else ""))
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
