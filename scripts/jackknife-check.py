"""An independent check of the ordering test's jackknife standard error (docs/ordering-test.md).

numpy only, its own draws (PCG64), its own estimator code: for two samples of N draws from the
SAME distribution over K = 101 outcomes, how often the z-test with jackknife standard errors,
(H(a) - H(b)) / sqrt(v_a + v_b) > 1.96, "holds" (a false positive; nominal 2.5%), with the true
sampling sd of the estimator and the mean jackknife sd beside it.

    python3 -m venv v && v/bin/pip install numpy==2.4.6 scipy==1.17.1
    v/bin/python scripts/jackknife-check.py 2000 plug     # plug-in entropy
    v/bin/python scripts/jackknife-check.py 1000 grass    # Grassberger (2003)
"""

import sys

import numpy as np
from scipy.special import digamma

K = 101


def zipf(n):
    h = sum(1 / i for i in range(1, n + 1))
    return np.array([1 / i / h for i in range(1, n + 1)])


DISTS = {
    "uniform": np.ones(K) / K,
    "zipf": zipf(K),
    "collapsed": np.concatenate([[0.8], 0.2 * zipf(K - 1)]),
}


def plug_in(c):
    c = np.asarray(c, float)
    p = c[c > 0] / c.sum()
    return float(-(p * np.log(p)).sum())


def grassberger(c):
    # H = ln N - (1/N) sum n_i G(n_i), G(n) = psi(n) + (-1)^n / 2 (psi((n+1)/2) - psi(n/2)).
    c = np.asarray(c, float)
    c = c[c > 0]
    n = c.sum()
    g = digamma(c) + 0.5 * (-1.0) ** c * (digamma((c + 1) / 2) - digamma(c / 2))
    return float(np.log(n) - (c * g).sum() / n)


def jackknife_variance(c, stat):
    c = np.asarray(c)
    n = c.sum()
    seen = np.nonzero(c)[0]
    loo = []
    for i in seen:
        d = c.copy()
        d[i] -= 1
        loo.append(stat(d))
    loo = np.array(loo)
    w = c[seen]
    mean = (w * loo).sum() / n
    return (n - 1) / n * (w * (loo - mean) ** 2).sum()


def main():
    runs = int(sys.argv[1])
    stat = {"plug": plug_in, "grass": grassberger}[sys.argv[2]]
    rng = np.random.default_rng(5)
    for name, p in DISTS.items():
        for n in [50, 200, 1000]:
            a = rng.multinomial(n, p, size=runs)
            b = rng.multinomial(n, p, size=runs)
            holds, sds = 0, []
            for r in range(runs):
                va, vb = jackknife_variance(a[r], stat), jackknife_variance(b[r], stat)
                holds += (stat(a[r]) - stat(b[r])) / np.sqrt(va + vb) > 1.959964
                sds.append(np.sqrt(va))
            true_sd = np.std([stat(x) for x in a])
            print(f"{name} N={n}: holds {holds / runs:.4f}  true sd {true_sd:.4f}  "
                  f"mean jackknife sd {np.mean(sds):.4f}", flush=True)


if __name__ == "__main__":
    main()
