import localdep


def apply(input):
    return localdep.shout(input)
