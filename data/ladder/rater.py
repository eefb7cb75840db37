"""The ladder's fixed rater: a reward over answers that stands in for human ratings.

Written by the team before any training, never tuned on the evaluation prompts (the prompts of
specs/, which stay held out). It scores an answer to "pick a random number between 0 and 100"
by how random the number looks to a person:

  - an answer that is not an integer in 0..100 (words, "between", "05", "970", ...): 0.0,
    the lowest reward;
  - any integer 0..100: 1.0;
  - two digits (10..99) rather than one or three: +1.0;
  - the last digit's look ("round" 0 worst, 5 next, 3 and 7 best):
        0: 0.0  5: 0.2  1: 0.5  9: 0.5  2: 0.7  8: 0.7  4: 0.8  6: 0.8  3: 1.0  7: 1.0;
  - a repeated digit (11, 22, ..., 99): -0.7;
  - an extreme (0, 1, 100) or a cliche (7, 13, 42, 50, 69, 99): -0.5;
  - the rater's idiosyncrasy: +0.5 * u(N), u(N) in [0, 1) from sha256("ladder-rater:" + N).

The idiosyncrasy term stands in for the noise in any learned reward model or panel of raters:
it breaks the ties between the fifteen numbers that score 3.0 on the features, so the reward
has a unique maximiser (see `argmax()`). The design therefore implies that a policy optimised
with beta -> 0 is driven towards one number (mode collapse by construction of the optimum,
pi*(o) proportional to pi_base(o) * exp(r(o) / beta)), and that which number it is depends on
that idiosyncrasy, not on the features; at beta near 1 the fifteen near-tied numbers keep
similar weight. Pure and deterministic: no state, no randomness.
"""

import hashlib

OTHER = None  # the outcome "not an integer in 0..100"

LAST_DIGIT = {0: 0.0, 5: 0.2, 1: 0.5, 9: 0.5, 2: 0.7, 8: 0.7, 4: 0.8, 6: 0.8, 3: 1.0, 7: 1.0}
EXTREMES_AND_CLICHES = frozenset({0, 1, 100, 7, 13, 42, 50, 69, 99})


def idiosyncrasy(n: int) -> float:
    """u(N) in [0, 1): the first 8 bytes of sha256("ladder-rater:N") as a fraction."""
    digest = hashlib.sha256(f"ladder-rater:{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def reward(n):
    """The reward of an answer: n is an int in 0..100, or None for any other answer."""
    if n is None or not isinstance(n, int) or not 0 <= n <= 100:
        return 0.0
    r = 1.0
    if 10 <= n <= 99:
        r += 1.0
    r += LAST_DIGIT[n % 10]
    if 10 <= n <= 99 and n // 10 == n % 10:
        r -= 0.7
    if n in EXTREMES_AND_CLICHES:
        r -= 0.5
    return r + 0.5 * idiosyncrasy(n)


def parse(answer: str):
    """The outcome of a completion, as the suite defines it: " N" then a non-digit or the end.

    Returns the int N, or None. " 97." and " 97 is" are 97; " 970", " 097", "  97" are None.
    """
    if not answer.startswith(" ") or len(answer) < 2 or not answer[1].isdigit():
        return None
    digits = ""
    for ch in answer[1:]:
        if ch.isdigit():
            digits += ch
        else:
            break
    if digits != str(int(digits)) or int(digits) > 100:
        return None
    return int(digits)


def rewards():
    """The reward of every outcome, indexed 0..100, then OTHER at index 101."""
    return [reward(n) for n in range(101)] + [reward(None)]


def argmax():
    rs = rewards()[:101]
    return max(range(101), key=lambda n: rs[n])


if __name__ == "__main__":
    rs = rewards()
    order = sorted(range(101), key=lambda n: -rs[n])
    print("argmax:", argmax())
    print("top 20:", ", ".join(f"{n}:{rs[n]:.3f}" for n in order[:20]))
    print("bottom 10:", ", ".join(f"{n}:{rs[n]:.3f}" for n in order[-10:]), f"other:{rs[101]}")
