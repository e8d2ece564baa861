"""The one refusal: input or an action the service turns down, with the HTTP status to answer."""


class Refused(ValueError):
    """Turned down: `message` says why, naming the field where there is one; `status` is the
    HTTP status to answer (422 bad input, 400 malformed, 404 unknown, 409 not now, 413 too big).
    Nothing was stored or changed."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.message = message
        self.status = status
