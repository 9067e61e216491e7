# A worker for the tests of package worker: it speaks docs/worker-protocol.md directly
# (stdlib only). Load behaviour comes from argv, call behaviour from the request's data:
#   worker.py [fail-load [DELAY] | slow-load SECONDS]
#   {"content_type":"json","data":{"op":"echo","value":V}}        -> result V
#   {"op":"sleep","seconds":S}                                    -> sleeps, result "slept"
#   {"op":"log","tag":T,"n":N}                                    -> N lines "T i" (stdout+stderr)
#   {"op":"flood","bytes":B}                                      -> B bytes of log, result "flooded"
#   {"op":"exit","code":C}                                        -> exits C mid-call
#   {"op":"crash"}                                                -> SIGKILLs itself mid-call
#   {"op":"big","size":N}                                         -> result: string of N "x"
#   {"op":"nomarker","tag":T}                                     -> logs T, no end marker
#   {"op":"pids"}                                                 -> [pid, pid of a child that sleeps]
#   {"op":"respond-exit"}                                         -> responds, then exits 0
#   {"op":"env","name":N}                                         -> the variable N (null if unset)
import json
import os
import signal
import subprocess
import sys
import time

MARKER = "--ALGOS-CALL-END--"


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    print("loading", mode)
    if mode == "fail-load":
        time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
        print("boom: load failed", file=sys.stderr)
        sys.exit(3)
    if mode == "slow-load":
        time.sleep(float(sys.argv[2]))
    print("PIPE_INIT_COMPLETE", flush=True)

    out = open(os.environ.get("ALGOS_PIPE_OUT", "/tmp/algoout"), "w")
    children = []
    for line in sys.stdin:
        req = json.loads(line)
        data = req["data"]
        op = data.get("op") if isinstance(data, dict) else None
        marker = True
        after = None
        if op == "echo":
            result = data.get("value")
        elif op == "sleep":
            time.sleep(data["seconds"])
            result = "slept"
        elif op == "log":
            for i in range(data["n"]):
                print(f"{data['tag']} {i}")
            print(f"{data['tag']} err", file=sys.stderr)
            result = "logged"
        elif op == "flood":
            chunk = "y" * 1023
            for _ in range(data["bytes"] // 1024):
                print(chunk)
            result = "flooded"
        elif op == "exit":
            print("exiting now", flush=True)
            os._exit(data.get("code", 7))
        elif op == "crash":
            print("crashing now", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        elif op == "big":
            result = "x" * data["size"]
        elif op == "nomarker":
            print(data["tag"])
            marker = False
            result = "nomarker"
        elif op == "pids":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            children.append(child)
            result = [os.getpid(), child.pid]
        elif op == "env":
            result = os.environ.get(data["name"])
        elif op == "respond-exit":
            result = "bye"
            after = "exit"
        else:
            result = {"unknown": data}
        sys.stdout.flush()
        sys.stderr.flush()
        if marker:
            print(MARKER, flush=True)
        out.write(json.dumps({"result": result, "metadata": {"content_type": "json"}}) + "\n")
        out.flush()
        if after == "exit":
            os._exit(0)


main()
