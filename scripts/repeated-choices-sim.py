#!/usr/bin/env python3
"""Simulate the repeated-choices check of `src/measure/sample.rs` (`repeated_choices_warning`):
its false-alarm rate when a server's n = 2 choices are independent, and how often it catches a
server that returns one sample twice, over B batches for a few outcome distributions. The same
rule as the Rust code: one-sided exact sign test of "choices agree within a batch" against
"choice 0 agrees with choice 1 of the next batch", warning at p < 0.001. The README quotes its
output (seed 1):

    python3 scripts/repeated-choices-sim.py
"""
import random, math
def binom_tail(k, n):  # P(X>=k), X~Bin(n,1/2)
    return sum(math.comb(n, i) for i in range(k, n+1)) / 2**n
def alarm(batches):
    b=len(batches); w=[x[0]==x[1] for x in batches]; a=[batches[i][0]==batches[(i+1)%b][1] for i in range(b)]
    pos=sum(1 for x,y in zip(w,a) if x and not y); neg=sum(1 for x,y in zip(w,a) if y and not x)
    if pos<=neg: return False
    n=pos+neg
    return binom_tail(pos, n) < 1e-3
random.seed(1)
for name, probs in [("flat10",[0.1]*10), ("skew",[0.5,0.2,0.1,0.1,0.05,0.05]), ("collapsed",[0.95,0.05]), ("two",[0.5,0.5])]:
    for B in (10, 100):
        reps=20000 if B==10 else 5000
        fa=sum(alarm([random.choices(range(len(probs)),probs,k=2) for _ in range(B)]) for _ in range(reps))
        det=0
        for _ in range(500):
            bs=[]
            for _ in range(B):
                x=random.choices(range(len(probs)),probs)[0]; bs.append([x,x])
            det+=alarm(bs)
        print(f"{name:9s} B={B:3d} false alarms {fa/reps:.5f}  detection of repeats {det/500:.3f}")
