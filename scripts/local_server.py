#!/usr/bin/env python3
"""Run one llama.cpp HTTP server (via the xllamacpp wheel) for one GGUF model.

Started by scripts/local-models.sh, one process per model. The server listens on
127.0.0.1:PORT for as long as this process lives; SIGTERM/SIGINT stop it.
"""
import argparse
import os
import signal
import sys
import threading


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, help="path to the .gguf file")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ctx", type=int, default=2048, help="context size (n_ctx)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--parallel", type=int, default=1, help="server slots (n_parallel)")
    ap.add_argument("--chat-template", default=None,
                    help="built-in llama.cpp chat template name (e.g. gemma) for GGUFs without one")
    ap.add_argument("--lora", action="append", default=[], metavar="PATH[@SCALE]",
                    help="load a LoRA adapter (GGUF) at start, at SCALE (default 0: off unless a "
                         "request's `lora` list names it); repeatable, ids follow the order given")
    ap.add_argument("--pidfile", help="write this process's pid here (removed on exit)")
    args = ap.parse_args()

    if not os.path.isfile(args.model):
        print(f"local_server: model file not found: {args.model}", file=sys.stderr)
        return 2

    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")

    stop = threading.Event()

    def on_signal(signum, _frame):
        print(f"local_server: got signal {signum}, stopping", file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.ctx
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.chat_template:
        # A built-in template name is only understood by the non-jinja code path.
        params.use_jinja = False
        params.chat_template = args.chat_template
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    adapters = []
    for spec in args.lora:
        path, _, scale = spec.partition("@")
        if not os.path.isfile(path):
            print(f"local_server: adapter file not found: {path}", file=sys.stderr)
            return 2
        adapters.append(xllamacpp.CommonAdapterLoraInfo(path, float(scale or 0.0)))
    if adapters:
        params.lora_adapters = adapters

    print(
        f"local_server: xllamacpp {getattr(xllamacpp, '__version__', '?')} "
        f"model={args.model} host={args.host} port={args.port} ctx={args.ctx} "
        f"threads={args.threads} parallel={args.parallel} chat_template={args.chat_template or '(from GGUF)'} "
        f"lora={args.lora or '(none)'}",
        file=sys.stderr,
        flush=True,
    )
    server = xllamacpp.Server(params)  # noqa: F841  (keeps the HTTP server alive)

    try:
        while not stop.wait(1.0):
            pass
    finally:
        if args.pidfile:
            try:
                with open(args.pidfile) as f:
                    if f.read().strip() == str(os.getpid()):
                        os.unlink(args.pidfile)
            except OSError:
                pass
    # Exit without running the server's (possibly slow) teardown.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
