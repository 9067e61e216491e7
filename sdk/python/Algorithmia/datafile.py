"""Files of the Data API and of data connectors: client.file("data://owner/collection/name")."""

import json
import os
import tempfile
from datetime import datetime

from Algorithmia.data import DataObject, DataObjectType, locate
from Algorithmia.errors import DataApiError
from Algorithmia.util import getParentAndBase


def _parse_time(s):
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(s, layout)
        except (TypeError, ValueError):
            pass
    return None


class DataFile(DataObject):
    """A file. Reads stream into a temporary file (get, getFile) or into memory (getBytes,
    getString, getJson); writes stream from memory (put, putJson) or from a file (putFile)."""

    def __init__(self, client, dataUrl):
        super(DataFile, self).__init__(DataObjectType.file)
        self.client = client
        self.path, self.url = locate(dataUrl)
        self.last_modified = None
        self.size = None

    def __repr__(self):
        return "DataFile(%r)" % (self.path,)

    def set_attributes(self, attributes):
        """Sets size and last_modified (a naive UTC datetime) from a directory listing's entry."""
        self.last_modified = _parse_time(attributes.get("last_modified"))
        self.size = attributes.get("size")

    def getName(self):
        return getParentAndBase(self.path)[1]

    def _open(self):
        """GETs the file and returns the Response, its body unread; raises DataApiError when the
        file cannot be read or the path is a directory."""
        resp = self.client.request("GET", self.url)
        if resp.status != 200:
            with resp:
                raise resp.error(DataApiError, "unable to get file %s" % (self.path,))
        if (resp.header("X-Data-Type") or "").lower() == "directory":
            resp.close()
            raise DataApiError("unable to get file %s - it is a directory" % (self.path,), 400)
        return resp

    def getFile(self, as_path=False):
        """Downloads the file, in chunks, to a new temporary file and returns it opened for reading
        as text (or its path, with as_path=True), as Algorithmia's client does. The temporary
        file is not deleted when closed: code often passes getFile().name on."""
        with self._open() as resp:
            fd, name = tempfile.mkstemp(prefix="algos-data-")
            try:
                with os.fdopen(fd, "wb") as f:
                    for chunk in resp.chunks():
                        f.write(chunk)
            except BaseException:
                os.unlink(name)
                raise
        if as_path:
            return name
        return open(name, "r", encoding="utf-8")

    def get(self):
        """Downloads the file, in chunks, to a tempfile.NamedTemporaryFile and returns it opened
        for reading bytes, at its start. Unlike getFile's, this temporary file is deleted when it
        is closed (or garbage-collected), so a worker's disk does not fill up call after call."""
        with self._open() as resp:
            f = tempfile.NamedTemporaryFile(mode="w+b", prefix="algos-data-")
            try:
                for chunk in resp.chunks():
                    f.write(chunk)
                f.flush()
                f.seek(0)
            except BaseException:
                f.close()
                raise
        return f

    def getBytes(self):
        with self._open() as resp:
            return resp.read()

    def getString(self):
        return self.getBytes().decode("utf-8")

    def getJson(self):
        return json.loads(self.getString())

    def exists(self):
        return self.existsWithError()[0]

    def existsWithError(self):
        """Returns (True, None) for a file, (False, why) when there is no file at this path;
        raises DataApiError when the API refuses to say (no key, no rights, server error)."""
        with self.client.request("HEAD", self.url) as resp:
            if resp.status == 404:
                return False, resp.header("X-Error-Message") or "not found"
            if resp.status != 200:
                raise resp.error(DataApiError, "unable to check file %s" % (self.path,))
            if (resp.header("X-Data-Type") or "").lower() == "directory":
                return False, "it is a directory"
            return True, None

    def _put(self, body, content_type, length=None):
        headers = {"Content-Type": content_type}
        if length is not None:
            headers["Content-Length"] = str(length)
        with self.client.request("PUT", self.url, body=body, headers=headers) as resp:
            if resp.status // 100 != 2:
                raise resp.error(DataApiError, "unable to put file %s" % (self.path,))
        return self

    def put(self, data):
        """Writes str (as UTF-8) or bytes to the file and returns self."""
        if isinstance(data, str):
            return self._put(data.encode("utf-8"), "text/plain; charset=utf-8")
        if isinstance(data, (bytes, bytearray, memoryview)):
            return self._put(bytes(data), "application/octet-stream")
        raise TypeError("Must put strings or binary data. Use putJson instead")

    def putJson(self, data):
        """Writes data as JSON and returns self."""
        return self._put(json.dumps(data).encode("utf-8"), "application/json")

    def putFile(self, path):
        """Uploads the local file at path, streaming it in chunks, and returns self."""
        with open(path, "rb") as f:
            return self._put(f, "application/octet-stream", os.fstat(f.fileno()).st_size)

    def delete(self):
        """Deletes the file; deleting a file that does not exist succeeds. Returns True."""
        with self.client.request("DELETE", self.url) as resp:
            if resp.status // 100 != 2:
                raise resp.error(DataApiError, "unable to delete file %s" % (self.path,))
        return True
