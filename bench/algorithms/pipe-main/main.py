# The talk's pipeline, for the benchmark: the input goes through two algorithms in turn, each
# called from inside this worker with the Algorithmia client.
import Algorithmia

client = Algorithmia.client()


def apply(input):
    steps = input["steps"]
    data = input["data"]
    for s in steps:
        data = client.algo(s).pipe(data).result
    return data
