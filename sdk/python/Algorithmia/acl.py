"""Access control lists of data collections, as in Algorithmia's client:
dir.create(ReadAcl.public), dir.update_permissions(ReadAcl.private),
dir.get_permissions().read_acl == AclType.my_algos."""


class AclInner(object):
    def __init__(self, pseudonym, acl_string):
        self.pseudonym = pseudonym
        self.acl_string = acl_string

    def __repr__(self):
        return "AclType(pseudonym=%s,acl_string=%s)" % (self.pseudonym, self.acl_string)


class AclType(object):
    public = AclInner("public", "user://*")
    my_algos = AclInner("my_algos", "algo://.my/*")
    private = AclInner("private", None)  # an empty list on the wire
    default = my_algos

    types = (public, my_algos, private)

    @staticmethod
    def from_acl_response(acl_list):
        if not acl_list:
            return AclType.private
        for t in AclType.types:
            if t.acl_string == acl_list[0]:
                return t
        raise ValueError("Invalid acl string %s" % (acl_list[0],))


class Acl(object):
    def __init__(self, read_acl):
        self.read_acl = read_acl

    @staticmethod
    def from_acl_response(acl_response):
        """Converts the API's {"read": [...]} to an Acl."""
        if "read" not in acl_response:
            raise ValueError("Response does not contain read ACL")
        return Acl(AclType.from_acl_response(acl_response["read"]))

    def to_api_param(self):
        if self.read_acl.acl_string is None:
            return {"read": []}
        return {"read": [self.read_acl.acl_string]}

    def __eq__(self, other):
        return isinstance(other, Acl) and self.read_acl is other.read_acl

    def __hash__(self):
        return hash(self.read_acl.pseudonym)

    def __repr__(self):
        return "Acl(read_acl=%r)" % (self.read_acl,)


class ReadAcl(object):
    public = Acl(AclType.public)
    private = Acl(AclType.private)
    my_algos = Acl(AclType.my_algos)


def _api_param(acl):
    """The wire form of an acl argument: an Acl, an AclInner, Algorithmia's {"read": [...]} or a
    name ("public", "my_algorithms", "private")."""
    if isinstance(acl, Acl):
        return acl.to_api_param()
    if isinstance(acl, AclInner):
        return Acl(acl).to_api_param()
    return acl
