"""What files and directories share: their type, and how a data URI becomes a REST path."""

import re
from enum import Enum
from urllib.parse import quote

DataObjectType = Enum("DataObjectType", "file directory")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.S)


class DataObject(object):
    def __init__(self, data_object_type):
        self.data_object_type = data_object_type

    def is_file(self):
        return self.data_object_type is DataObjectType.file

    def is_dir(self):
        return self.data_object_type is DataObjectType.directory

    def get_type(self):
        return self.data_object_type


def locate(uri):
    """Returns (path, url) for a data URI: path is the URI without "data://" (Algorithmia's
    DataFile.path; connector URIs keep their scheme), url the REST path it is served at.

        data://owner/collection/file.csv  → /v1/data/owner/collection/file.csv
        owner/collection/file.csv         → the same (no scheme means data://)
        s3://bucket/key                   → /v1/connector/s3/bucket/key
        s3+label://bucket/key             → /v1/connector/s3+label/bucket/key
        gs://… azure://… blob://…         → /v1/connector/gs/…, /azure/…, /blob/…
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError("a data URI is a non-empty string such as data://owner/collection/file")
    m = _SCHEME.match(uri)
    if m is None:
        scheme, rest = "data", uri
    else:
        scheme, rest = m.group(1).lower(), m.group(2)
    if scheme == "file":
        raise ValueError("file:// URIs (local files) are not supported by this client: open the file with open()")
    rest = rest.lstrip("/")
    if not rest:
        raise ValueError("data URI %r names no owner or bucket" % (uri,))
    escaped = quote(rest, safe="/")
    if scheme == "data":
        return rest, "/v1/data/" + escaped
    return scheme + "://" + rest, "/v1/connector/" + quote(scheme, safe="+") + "/" + escaped
