#!/usr/bin/env python3
"""Validate data/mcq/general-knowledge.jsonl (stdlib only, Python 3.11+).

Usage: python3 data/mcq/check.py [path/to/file.jsonl]

Checks every line is a JSON object with exactly the keys
id, topic, question, options, answer (in that order); ids are gk-001,
gk-002, ... without gaps; options has exactly the keys A, B, C, D (in that
order) with four distinct non-empty strings; answer is one of A-D; all text
is printable ASCII with no newlines; length limits hold; no question is
repeated; each answer letter is correct for n/4 (+-1) questions; the answer
sequence has no long runs and is not a simple cycle. Questions of the form
"What is <int> <op> <int>?" are also recomputed and compared to the answer.

Prints a summary (counts per answer letter and per topic) and exits 1 on
any problem, 0 otherwise.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

KEYS = ["id", "topic", "question", "options", "answer"]
LETTERS = ["A", "B", "C", "D"]
MAX_QUESTION = 199  # "under 200 characters"
MAX_OPTION = 80
MAX_TOPIC = 32
MAX_RUN = 4  # longest allowed run of the same answer letter
MIN_QUESTIONS = 120

ARITH = re.compile(r"^What is (\d+) (\+|-|x|\*|divided by) (\d+)\?$")


def ascii_ok(s: str) -> bool:
    return all(32 <= ord(ch) < 127 for ch in s)


def check_text(errors: list[str], where: str, s: object, limit: int) -> None:
    if not isinstance(s, str) or not s.strip():
        errors.append(f"{where}: must be a non-empty string")
        return
    if s != s.strip():
        errors.append(f"{where}: leading/trailing whitespace")
    if not ascii_ok(s):
        errors.append(f"{where}: non-ASCII or control character (incl. newline)")
    if len(s) > limit:
        errors.append(f"{where}: {len(s)} characters, limit {limit}")


def arithmetic(a: int, op: str, b: int) -> str | None:
    if op == "+":
        return str(a + b)
    if op == "-":
        return str(a - b)
    if op in ("x", "*"):
        return str(a * b)
    if op == "divided by" and b != 0 and a % b == 0:
        return str(a // b)
    return None


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("general-knowledge.jsonl")
    errors: list[str] = []
    raw = path.read_bytes()
    if not raw.endswith(b"\n"):
        errors.append("file does not end with a newline")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        print(f"FAIL: file is not ASCII: {e}")
        return 1

    answers: list[str] = []
    per_topic: Counter[str] = Counter()
    per_topic_letter: dict[str, Counter[str]] = {}
    seen_questions: dict[str, str] = {}
    arith_checked = 0

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        where = f"line {n}"
        if not line.strip():
            errors.append(f"{where}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: invalid JSON: {e}")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        if list(obj.keys()) != KEYS:
            errors.append(f"{where}: keys {list(obj.keys())}, expected {KEYS} in that order")
            continue
        expected_id = f"gk-{n:03d}"
        if obj["id"] != expected_id:
            errors.append(f"{where}: id {obj['id']!r}, expected {expected_id!r}")
        where = f"{where} ({obj['id']})"

        check_text(errors, f"{where} topic", obj["topic"], MAX_TOPIC)
        check_text(errors, f"{where} question", obj["question"], MAX_QUESTION)

        opts = obj["options"]
        if not isinstance(opts, dict) or list(opts.keys()) != LETTERS:
            errors.append(f"{where}: options must have exactly keys A, B, C, D in that order")
            continue
        for letter in LETTERS:
            check_text(errors, f"{where} option {letter}", opts[letter], MAX_OPTION)
        values = [v.strip().casefold() for v in opts.values() if isinstance(v, str)]
        if len(set(values)) != 4:
            errors.append(f"{where}: options are not four distinct strings")

        ans = obj["answer"]
        if ans not in LETTERS:
            errors.append(f"{where}: answer {ans!r} not in A-D")
            continue

        q = obj["question"]
        if isinstance(q, str):
            key = " ".join(q.casefold().split())
            if key in seen_questions:
                errors.append(f"{where}: duplicate of question {seen_questions[key]}")
            else:
                seen_questions[key] = obj["id"]
            m = ARITH.match(q)
            if m:
                expected = arithmetic(int(m.group(1)), m.group(2), int(m.group(3)))
                if expected is not None:
                    arith_checked += 1
                    if opts[ans] != expected:
                        errors.append(f"{where}: arithmetic answer is {expected}, keyed option is {opts[ans]!r}")
                    if sum(1 for v in opts.values() if v == expected) != 1:
                        errors.append(f"{where}: arithmetic result {expected} must appear exactly once")

        answers.append(ans)
        topic = obj["topic"] if isinstance(obj["topic"], str) else "?"
        per_topic[topic] += 1
        per_topic_letter.setdefault(topic, Counter())[ans] += 1

    total = len(answers)
    if total < MIN_QUESTIONS:
        errors.append(f"only {total} valid questions, need at least {MIN_QUESTIONS}")

    letter_counts = Counter(answers)
    even = total / 4 if total else 0
    for letter in LETTERS:
        if abs(letter_counts[letter] - even) > 1:
            errors.append(f"answer {letter}: {letter_counts[letter]} questions, expected {even:g} +- 1")

    # no simple pattern: no long runs, not a plain cycle
    run = longest = 1 if answers else 0
    for i in range(1, len(answers)):
        run = run + 1 if answers[i] == answers[i - 1] else 1
        longest = max(longest, run)
    if longest > MAX_RUN:
        errors.append(f"answer sequence has a run of {longest} identical letters (max {MAX_RUN})")
    for period in range(1, 9):
        if len(answers) > 2 * period and all(answers[i] == answers[i - period] for i in range(period, len(answers))):
            errors.append(f"answer sequence repeats with period {period}")
            break

    print(f"file: {path}")
    print(f"questions: {total}")
    print("answers per letter: " + ", ".join(f"{L}={letter_counts[L]}" for L in LETTERS))
    print("questions per topic:")
    for topic, count in sorted(per_topic.items()):
        split = " ".join(f"{L}={per_topic_letter[topic][L]}" for L in LETTERS)
        print(f"  {topic:<12} {count:>4}   ({split})")
    print(f"longest run of one answer letter: {longest}")
    print(f"arithmetic questions recomputed: {arith_checked}")

    if errors:
        print(f"FAIL: {len(errors)} problem(s)")
        for e in errors:
            print(f"  - {e}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
