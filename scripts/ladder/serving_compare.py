#!/usr/bin/env python3
"""Serving the ladder: one llama.cpp server with every adapter vs one server per rung.

Sends the same logprob requests (a held-out prompt and the continuations " ", " 1", " 2", ...,
as enumerate asks them, top 150, cache off) for each rung (a) to the one ladder server, naming
the rung's adapter in `lora` (the base: adapter 0 at scale 0), and (b) to the rung's own server,
with no `lora` list; interleaved, so that both see the same load. Prints the seconds per request
of each and the largest |difference| of a listed token's logprob between them.

  python3 scripts/ladder/serving_compare.py --all 8094 --own base=8091 sft=8097:0 rlhf=8098:1

`--own NAME=PORT[:ID]`: NAME's own server (ID: the rung's adapter id on the one server; none
for the base, which is compared with a server that loads no adapter). Standard library only.
"""
import argparse
import json
import time
import urllib.request

PROMPT = "Q: What is your favourite random integer between 0 and 100?\nA: My favourite is"
# gemma ids: " ", then "0".."9" (POST /tokenize)
SPACE = 236743
DIGITS = [236771, 236770, 236778, 236800, 236812, 236810, 236825, 236832, 236828, 236819]


def request(port, cont, lora):
    body = {"prompt": [PROMPT, *cont], "max_tokens": 1, "logprobs": 150, "temperature": 0.0,
            "n": 1, "cache_prompt": False}
    if lora is not None:
        body["lora"] = lora
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        d = json.load(r)
    dt = time.perf_counter() - t0
    top = d["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    return dt, {t["id"]: t["logprob"] for t in top}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", type=int, required=True, help="port of the server with every adapter")
    ap.add_argument("--own", nargs="+", required=True, help="NAME=PORT[:ID]")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    conts = [[]] + [[SPACE]] + [[SPACE, d] for d in DIGITS[:8]]
    for spec in a.own:
        name, rest = spec.split("=")
        port, _, aid = rest.partition(":")
        lora = [{"id": int(aid), "scale": 1.0}] if aid else [{"id": 0, "scale": 0.0}]
        t_all, t_own, worst, ranks_equal = [], [], 0.0, True
        for _ in range(a.rounds):
            for cont in conts:
                d1, x = request(a.all, cont, lora)
                d2, y = request(int(port), cont, None)
                t_all.append(d1)
                t_own.append(d2)
                common = set(x) & set(y)
                worst = max([worst] + [abs(x[i] - y[i]) for i in common])
                ranks_equal &= list(x)[:20] == list(y)[:20]
        n = len(t_all)
        print(json.dumps({
            "rung": name, "requests_each": n,
            "one_server_s_per_request": round(sum(t_all) / n, 3),
            "own_server_s_per_request": round(sum(t_own) / n, 3),
            "max_abs_logprob_difference": worst,
            "same_top20_order": ranks_equal,
        }))


if __name__ == "__main__":
    main()
