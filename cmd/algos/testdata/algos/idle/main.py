def apply(input):
    return "awake"
