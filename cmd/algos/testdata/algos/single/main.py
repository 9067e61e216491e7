import time


def apply(input):
    time.sleep(float(input))
    return "done"
