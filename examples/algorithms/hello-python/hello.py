"""The smallest Python algorithm: apply(input) is called once per call."""

GREETING = None


def load():
    # Runs once per worker, before the first call: load models and files here.
    global GREETING
    GREETING = "Hello"


def apply(input):
    if isinstance(input, dict):
        input = input.get("name", "world")
    print(f"greeting {input!r}")  # goes to the call's log (stdout=true)
    return f"{GREETING} {input}"
