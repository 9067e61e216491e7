"""Directories (collections and folders) of the Data API and of data connectors:
client.dir("data://owner/collection")."""

import json

from Algorithmia.acl import Acl, _api_param
from Algorithmia.data import DataObject, DataObjectType, locate
from Algorithmia.datafile import DataFile
from Algorithmia.errors import DataApiError
from Algorithmia.util import getParentAndBase, pathJoin


class DataDirectory(DataObject):
    def __init__(self, client, dataUrl):
        super(DataDirectory, self).__init__(DataObjectType.directory)
        self.client = client
        if isinstance(dataUrl, str) and dataUrl.endswith("/") and not dataUrl.endswith("://"):
            dataUrl = dataUrl.rstrip("/")
        self.path, self.url = locate(dataUrl)

    def __repr__(self):
        return "DataDirectory(%r)" % (self.path,)

    def set_attributes(self, response_json):
        pass

    def getName(self):
        return getParentAndBase(self.path)[1]

    def exists(self):
        """True when the directory exists (a file at this path is not one); raises DataApiError
        when the API refuses to say."""
        with self.client.request("HEAD", self.url) as resp:
            if resp.status == 404:
                return False
            if resp.status != 200:
                raise resp.error(DataApiError, "unable to check directory %s" % (self.path,))
            return (resp.header("X-Data-Type") or "directory").lower() == "directory"

    def create(self, acl=None):
        """Creates the directory: a collection (owner/collection), with acl (ReadAcl.public,
        ReadAcl.my_algos, ReadAcl.private) when given, or a folder in one. Returns self; raises
        DataApiError when it exists already."""
        parent, name = getParentAndBase(self.path)
        body = {"name": name}
        if acl is not None:
            body["acl"] = _api_param(acl)
        _, parent_url = locate(parent)
        payload = json.dumps(body).encode("utf-8")
        with self.client.request("POST", parent_url, body=payload, headers={"Content-Type": "application/json"}) as resp:
            if resp.status // 100 != 2:
                raise resp.error(DataApiError, "Directory creation failed for %s" % (self.path,))
        return self

    def delete(self, force=False):
        """Deletes the directory; with force=True also when it holds files. Deleting a directory
        that does not exist succeeds. Returns True."""
        query = {"force": "true"} if force else None
        with self.client.request("DELETE", self.url, query=query) as resp:
            if resp.status // 100 != 2:
                raise resp.error(DataApiError, "unable to delete directory %s" % (self.path,))
        return True

    def file(self, name):
        return DataFile(self.client, pathJoin(self.path, name))

    def dir(self, name):
        return DataDirectory(self.client, pathJoin(self.path, name))

    def files(self):
        """Iterates over the files (DataFile, with size and last_modified), page after page."""
        return self._iterate(DataObjectType.file)

    def dirs(self):
        """Iterates over the sub-directories (DataDirectory), page after page."""
        return self._iterate(DataObjectType.directory)

    def list(self):
        """Iterates over sub-directories and files, page after page."""
        return self._iterate(None)

    def get_permissions(self):
        """The collection's Acl, or None where the API has none to give."""
        content = self._page({"acl": "true"})
        acl = content.get("acl")
        return Acl.from_acl_response(acl) if isinstance(acl, dict) else None

    def update_permissions(self, acl):
        """Sets the collection's ACL (ReadAcl.public, ReadAcl.my_algos, ReadAcl.private)."""
        payload = json.dumps({"acl": _api_param(acl)}).encode("utf-8")
        with self.client.request("PATCH", self.url, body=payload, headers={"Content-Type": "application/json"}) as resp:
            if resp.status // 100 != 2:
                raise resp.error(DataApiError, "Unable to update permissions of %s" % (self.path,))
        return True

    def _page(self, query):
        with self.client.request("GET", self.url, query=query) as resp:
            if resp.status != 200:
                raise resp.error(DataApiError, "Directory iteration failed for %s" % (self.path,))
            if (resp.header("X-Data-Type") or "").lower() == "file":
                raise DataApiError("%s is a file, not a directory" % (self.path,), 400)
            content = resp.json()
        if not isinstance(content, dict):
            raise DataApiError("the API listed %s as %r" % (self.path, content), 200)
        return content

    def _iterate(self, type_filter):
        marker = None
        while True:
            content = self._page({"marker": marker} if marker else None)
            if type_filter in (DataObjectType.directory, None):
                for info in content.get("folders") or []:
                    yield DataDirectory(self.client, pathJoin(self.path, info["name"]))
            if type_filter in (DataObjectType.file, None):
                for info in content.get("files") or []:
                    f = DataFile(self.client, pathJoin(self.path, info["filename"]))
                    f.set_attributes(info)
                    yield f
            following = content.get("marker")
            if not following:
                return
            if following == marker:
                raise DataApiError("listing %s: the API answered the same page marker twice" % (self.path,), 200)
            marker = following
