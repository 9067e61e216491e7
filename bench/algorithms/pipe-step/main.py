# One step of the benchmark's pipeline: a small transformation of a list of numbers.
def apply(input):
    return [x + 1 for x in input]
