"""Which failures are transient (retried quietly) and which are reported at /failures."""
from botocore.exceptions import ClientError, EndpointConnectionError
from pynamodb.exceptions import UpdateError

from chalicelib.core.batch import is_transient
from chalicelib.core.errors import PermanentError, RetryLater


def client_error(code):
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "UpdateItem")


def test_throttling_and_connection_trouble_are_transient():
    assert is_transient(RetryLater("slow down", 1))
    assert is_transient(client_error("ProvisionedThroughputExceededException"))
    assert is_transient(EndpointConnectionError(endpoint_url="http://dynamodb"))
    assert is_transient(UpdateError("update failed", cause=client_error("ThrottlingException")))


def test_bad_input_and_bugs_are_not_transient():
    assert not is_transient(PermanentError("no order id"))
    assert not is_transient(KeyError("oops"))
    assert not is_transient(client_error("ValidationException"))
