#!/usr/bin/env bash
# Start/stop a gemma-3-270m llama.cpp server with TWO slots (n_parallel = 2), the setting in
# which llama.cpp accepts `"n": 2`; for the batched-sampling live test (`max_n: 2`) and
# tests/fixtures/wire/capture_sample_n2.py. The same machinery as scripts/local-models.sh
# (venv, GGUF, pid file, health wait), acting on its `gemma-two-slot` server only.
#
#   scripts/two-slot-gemma.sh up      # start on 127.0.0.1:$MODECOLLAPSE_TWO_SLOT_PORT, wait until healthy
#   scripts/two-slot-gemma.sh down    # stop it
#   scripts/two-slot-gemma.sh status
#
# Environment: as scripts/local-models.sh; MODECOLLAPSE_TWO_SLOT_PORT (default 8093). The
# test reads the server's URL from MODECOLLAPSE_TWO_SLOT_GEMMA_URL (default
# http://127.0.0.1:8093/v1).
set -euo pipefail
MODECOLLAPSE_SERVERS=gemma-two-slot exec "$(dirname "${BASH_SOURCE[0]}")/local-models.sh" "$@"
