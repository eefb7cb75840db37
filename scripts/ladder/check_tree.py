"""Check the tree forward against plain causal forwards: log P(N) for a few N, two prompts."""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import ladder

base, tok = ladder.load_base()
prompts = ladder.train_prompts()[:1] + ladder.heldout_prompts()[:1]
worst = 0.0
for name, text in prompts:
    t = time.time()
    tree = ladder.Tree(tok, text)
    with torch.no_grad():
        lp = ladder.outcome_logprobs(base, tree)
    print(name, f"tree forward {time.time() - t:.2f} s, {tree.ids.shape[1]} tokens", flush=True)
    for n in [0, 7, 42, 97, 100]:
        ids = tok(text + f" {n}")["input_ids"]
        with torch.no_grad():
            logits = base(input_ids=torch.tensor([ids])).logits[0]
        lps = torch.log_softmax(logits.float(), -1)
        L = len(tok(text)["input_ids"])
        v = sum(lps[i - 1, ids[i]].item() for i in range(L, len(ids)))
        pd = lps[-1, tree.any_digit].exp().sum().item()
        v += torch.log1p(torch.tensor(-pd)).item()
        worst = max(worst, abs(v - lp[n].item()))
        print(f"  {n}: tree {lp[n].item():.5f} linear {v:.5f}")
    p = lp.exp()
    print("  coverage", p[:101].sum().item(), "other", p[101].item())
print("worst |diff|", worst)
