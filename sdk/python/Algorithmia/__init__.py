"""An Algorithmia-compatible client for algos, and Algorithmia's ADK.

    import Algorithmia

    client = Algorithmia.client()            # in a worker: acts for the caller of the algorithm
    rows = client.file("data://.my/ts/records.csv").getString()
    result = client.algo("demo/ts-forecast/1.*").pipe({"series": [1, 2, 3]}).result

See docs/algorithmia.md for what of Algorithmia's client is covered. Standard library only.
"""

from Algorithmia.acl import Acl, AclType, ReadAcl
from Algorithmia.adk import ADK, Handler
from Algorithmia.algorithm import OutputType
from Algorithmia.client import Client
from Algorithmia.errors import AlgorithmException, ApiError, ApiInternalError, DataApiError

__all__ = [
    "ADK", "Acl", "AclType", "AlgorithmException", "ApiError", "ApiInternalError", "Client",
    "DataApiError", "Handler", "OutputType", "ReadAcl", "algo", "client", "dir", "file", "handler",
]

# The default client's key and address; None: from the environment (see Algorithmia.client).
apiKey = None
apiAddress = None

_default_client = None


def client(api_key=None, api_address=None):
    """Returns a client. Without api_key, a client in an algos worker acts, during each call, for
    the caller of the algorithm (the call's token, sent to the node agent); elsewhere it uses
    ALGORITHMIA_API_KEY. The address is api_address, else ALGORITHMIA_API, else
    http://127.0.0.1:8080."""
    return Client(api_key, api_address)


def getDefaultClient():
    """The client of Algorithmia.algo/file/dir, made again when Algorithmia.apiKey changes."""
    global _default_client
    if _default_client is None or _default_client._api_key != apiKey:
        _default_client = Client(apiKey)
    return _default_client


def algo(algoRef):
    return getDefaultClient().algo(algoRef)


def file(dataUrl):
    return getDefaultClient().file(dataUrl)


def dir(dataUrl):
    return getDefaultClient().dir(dataUrl)


def handler(apply_func, load_func=None):
    return Handler(apply_func, load_func)


def getApiAddress():
    """The address a client without one of its own sends requests to outside a call."""
    return getDefaultClient()._target()[0]
