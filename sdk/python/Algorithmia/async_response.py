class AsyncResponse(object):
    """The reply to an asynchronous call (output=void): the request's ID, to fetch its result with
    GET /v1/requests/{request_id}."""

    def __init__(self, server_response):
        self.async_protocol = server_response.get("async", server_response.get("async_protocol"))
        self.request_id = server_response["request_id"]

    def __repr__(self):
        return "AsyncResponse(async_protocol=%s, request_id=%s)" % (self.async_protocol, self.request_id)
