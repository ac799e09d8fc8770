"""The health CLI's XML-RPC reader against what Python's (and supervisor's) marshaller writes."""

import xmlrpc.client

import pytest

from healthchecks import rpc


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        '<escaped> & "quoted" ünïcode',
        "",
        42,
        -7,
        3.25,
        True,
        False,
        [],
        {},
        [1, "two", [3.0, {"four": 4}]],
        [{"name": "jupyter", "state": "RUNNING", "pid": 12, "rss": 1.5e9, "last_lines": ["a", "b"]}],
    ],
)
def test_round_trip(value):
    body = xmlrpc.client.dumps((value,), methodresponse=True).encode()
    assert rpc.parse_response(body) == value


def test_untyped_value_is_a_string():
    body = b"<methodResponse><params><param><value>bare</value></param></params></methodResponse>"
    assert rpc.parse_response(body) == "bare"


def test_fault_raises():
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(1, "UNKNOWN_METHOD"), methodresponse=True).encode()
    with pytest.raises(rpc.Fault, match="1: UNKNOWN_METHOD"):
        rpc.parse_response(body)


def test_request_is_a_method_call():
    params, method = xmlrpc.client.loads(rpc.request_body("deepdocker.status"))
    assert method == "deepdocker.status" and params == ()
