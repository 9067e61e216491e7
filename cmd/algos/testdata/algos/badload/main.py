def load():
    raise RuntimeError("model file missing")


def apply(input):
    return input
