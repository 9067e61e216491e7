import os
import time

STARTED = None


def load():
    global STARTED
    STARTED = time.time()


def apply(input):
    if isinstance(input, (bytes, bytearray)):
        return bytes(input)
    if isinstance(input, str):
        return input
    if not isinstance(input, dict):
        return {"type": type(input).__name__, "value": input}
    op = input.get("op")
    if op == "echo":
        return input.get("value")
    if op == "sleep":
        time.sleep(input["seconds"])
        return "slept"
    if op == "crash":
        os._exit(3)
    if op == "print":
        print(input["text"])
        return "printed"
    if op == "fail":
        raise ValueError("bad input: " + str(input.get("why")))
    if op == "pid":
        return os.getpid()
    if op == "loaded":
        return STARTED is not None
    raise ValueError("unknown op")
