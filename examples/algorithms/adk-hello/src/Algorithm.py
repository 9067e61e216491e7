# Written exactly as for Algorithmia's ADK (https://github.com/algorithmiaio/algorithmia-adk-python):
# algos serves it without edits. Locally, `PYTHONPATH=sdk/python python src/Algorithm.py` loads,
# applies to "Algorithmia" once and prints the response.
from Algorithmia import ADK


def load():
    # Runs once per worker, before the first call: load models and files here. What it returns
    # is passed to apply.
    return {"greeting": "Hello"}


def apply(input, globals):
    if isinstance(input, dict):
        input = input.get("name", "world")
    return "{} {}".format(globals["greeting"], input)


algorithm = ADK(apply, load)
algorithm.init("Algorithmia")
