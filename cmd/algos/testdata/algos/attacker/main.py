# A test algorithm that tries what a hostile one would from inside its worker, and reports what
# the sandbox let through; it also calls another algorithm the legitimate way (the agent's
# socket, with its call's token).
import os
import socket

import Algorithmia

client = Algorithmia.client()


def attempt(f):
    try:
        return "allowed: %r" % (f(),)
    except Exception as e:  # what was refused, and how
        return "denied: %s" % type(e).__name__


def connect(host, port):
    s = socket.create_connection((host, port), timeout=2)
    s.close()
    return "connected"


def write(path):
    with open(path, "w") as f:
        f.write("pwned")
    return path


def apply(input):
    return {
        "proc1_environ": attempt(lambda: open("/proc/1/environ", "rb").read()[:16]),
        "read_secret": attempt(lambda: open(input["secret_path"], "rb").read()[:4]),
        "write_outside": attempt(lambda: write(input["write_path"])),
        "metadata_service": attempt(lambda: connect("169.254.169.254", 80)),
        "control_plane_tcp": attempt(lambda: connect("127.0.0.1", input["cp_port"])),
        "child_call": attempt(lambda: client.algo(input["child"]).pipe("sandbox").result),
        "uid": os.getuid(),
    }
