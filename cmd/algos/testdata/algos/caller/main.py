# A test algorithm that calls others and the Data API from inside its worker, through the
# Algorithmia client: {"op": "pipe", "path": [algo, …], "data": …} calls path[0] with the rest
# of the path (each hop is this same algorithm published under another name), {"op": "read",
# "uri": …} reads a file, {"op": "write", "uri": …, "data": …} writes one.
import Algorithmia

client = Algorithmia.client()  # no key: inside a worker, the call's token is used


def apply(input):
    op = input.get("op")
    if op == "pipe":
        path = input["path"]
        if not path:
            return input["data"]
        return client.algo(path[0]).pipe({"op": "pipe", "path": path[1:], "data": input["data"]}).result
    if op == "read":
        return client.file(input["uri"]).getString()
    if op == "write":
        client.file(input["uri"]).put(input["data"])
        return "written"
    raise ValueError("unknown op %r" % op)
