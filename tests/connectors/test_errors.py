from __future__ import annotations

import pytest
import requests
import responses

from sync_workers.connectors.errors import (
    ACUMATICA,
    XCART,
    AuthError,
    Forbidden,
    LoginLimitReached,
    NotFound,
    NotSupported,
    PreconditionFailed,
    RateLimited,
    SessionExpired,
    ValidationFailed,
    acumatica_field_errors,
    classify_exception,
    classify_response,
    retry_after_seconds,
)
from sync_workers.errors import PermanentError, TransientError

URL = "http://remote.test/api/thing"


def answer(method: str, status: int, body: object = None, headers: dict | None = None):
    with responses.RequestsMock() as mock:
        kwargs = {"json": body} if not isinstance(body, str) else {"body": body}
        mock.add(method, URL, status=status, headers=headers or {}, **kwargs)
        return requests.request(method, URL, timeout=1)


ACU_500 = {"message": "An error has occurred.", "exceptionType": "PX.Data.PXException"}


@pytest.mark.parametrize(
    ("system", "status", "body", "expected"),
    [
        (ACUMATICA, 401, {"message": "You are not logged in."}, SessionExpired),
        (
            ACUMATICA,
            500,
            {**ACU_500, "exceptionMessage": "No entity satisfies the condition."},
            NotFound,
        ),
        (
            ACUMATICA,
            500,
            {**ACU_500, "exceptionMessage": "Error: Invalid credentials. Please try again."},
            AuthError,
        ),
        (
            ACUMATICA,
            500,
            {
                **ACU_500,
                "exceptionMessage": "Optimization cannot be performed.The following fields",
            },
            PermanentError,
        ),
        (
            ACUMATICA,
            500,
            {**ACU_500, "exceptionMessage": "Transaction (Process ID 61) was deadlocked"},
            TransientError,
        ),
        (ACUMATICA, 429, {"message": "API Login Limit"}, LoginLimitReached),
        (
            ACUMATICA,
            500,
            {**ACU_500, "exceptionMessage": "API Login Limit reached"},
            LoginLimitReached,
        ),
        (ACUMATICA, 429, {"message": "Too many requests"}, RateLimited),
        (
            ACUMATICA,
            400,
            {"message": "The request is invalid.", "modelState": {"": ["empty"]}},
            ValidationFailed,
        ),
        (ACUMATICA, 400, {"error": "invalid_grant"}, AuthError),
        (ACUMATICA, 401, {"error": "invalid_client"}, AuthError),
        (ACUMATICA, 412, {"message": "exists"}, PreconditionFailed),
        (
            ACUMATICA,
            422,
            {"error": "Inserting 'Sales Order' record raised at least one error."},
            ValidationFailed,
        ),
        (ACUMATICA, 403, {"message": "denied"}, Forbidden),
        (ACUMATICA, 404, {"message": "no action"}, NotFound),
        (XCART, 401, {"message": "Invalid credentials."}, AuthError),
        (XCART, 403, {"detail": "Access Denied."}, Forbidden),
        (XCART, 404, {"detail": "Not Found"}, NotFound),
        (XCART, 400, {"detail": "Order with ID 999 not found"}, NotFound),
        (XCART, 400, {"detail": "Status code 'XX' is wrong"}, ValidationFailed),
        (XCART, 405, {"detail": "Method Not Allowed"}, NotSupported),
        (XCART, 500, {"detail": "Internal Server Error"}, TransientError),
        (XCART, 502, "bad gateway", TransientError),
        (XCART, 503, "unavailable", TransientError),
        (XCART, 504, "gateway timeout", TransientError),
    ],
)
def test_error_table_maps_each_answer_to_its_class(system, status, body, expected):
    error = classify_response(system, answer("GET", status, body))
    assert type(error) is expected
    assert error.details["status"] == status
    assert error.details["system"] == system


def test_successful_answer_is_not_an_error():
    assert classify_response(XCART, answer("GET", 200, [])) is None
    assert classify_response(ACUMATICA, answer("PUT", 204, "")) is None


def test_login_limit_text_wins_over_other_statuses():
    error = classify_response(
        ACUMATICA, answer("POST", 500, {**ACU_500, "exceptionMessage": "API Login Limit"})
    )
    assert isinstance(error, LoginLimitReached)
    assert "maybe_applied" not in error.details


def test_retry_after_header_is_honoured_on_429():
    error = classify_response(
        XCART, answer("GET", 429, {"detail": "slow down"}, {"Retry-After": "7"})
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0


def test_retry_after_accepts_http_dates():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_transient_write_failure_says_it_may_have_been_applied():
    error = classify_response(ACUMATICA, answer("PUT", 504, "gateway timeout"))
    assert error.details["maybe_applied"] is True
    read = classify_response(ACUMATICA, answer("GET", 504, "gateway timeout"))
    assert "maybe_applied" not in read.details


def test_read_timeout_on_write_may_have_been_applied_but_connect_timeout_not():
    late = classify_exception(ACUMATICA, requests.ReadTimeout("slow"), "PUT", URL)
    assert isinstance(late, TransientError) and late.details["maybe_applied"] is True
    early = classify_exception(ACUMATICA, requests.ConnectTimeout("no route"), "PUT", URL)
    assert isinstance(early, TransientError) and "maybe_applied" not in early.details


def test_connection_reset_is_transient_and_maybe_applied_for_writes():
    reset = requests.ConnectionError("('Connection aborted.', ConnectionResetError(104))")
    error = classify_exception(XCART, reset, "POST", URL)
    assert isinstance(error, TransientError)
    assert error.details["maybe_applied"] is True


def test_refused_connection_was_not_applied():
    refused = requests.ConnectionError("NewConnectionError: [Errno 111] Connection refused")
    error = classify_exception(XCART, refused, "PUT", URL)
    assert "maybe_applied" not in error.details


def test_invalid_url_is_permanent():
    error = classify_exception(XCART, requests.exceptions.MissingSchema("no scheme"), "GET", "x")
    assert isinstance(error, PermanentError)


def test_details_carry_no_query_string_and_no_request_headers():
    with responses.RequestsMock() as mock:
        mock.add("GET", URL, status=401, json={"message": "Invalid credentials."})
        resp = requests.get(URL, params={"q": "x"}, headers={"X-Auth-Token": "sekret"}, timeout=1)
    error = classify_response(XCART, resp)
    assert error.details["url"] == URL
    assert "sekret" not in repr(error.details) and "sekret" not in str(error)


def test_acumatica_422_field_errors_are_extracted_with_paths():
    echo = {
        "error": "Inserting 'Sales Order' record raised at least one error.",
        "CustomerID": {"value": "NOPE", "error": "'Customer' cannot be found in the system."},
        "OrderType": {"value": "SO"},
        "Details": [
            {"InventoryID": {"value": "OK-1"}},
            {
                "InventoryID": {
                    "value": "GONE",
                    "error": "'Inventory Item' cannot be found in the system.",
                }
            },
        ],
        "ShipToAddress": {"State": {"value": "ZZ", "error": "State 'ZZ' not found."}},
    }
    error = classify_response(ACUMATICA, answer("PUT", 422, echo))
    assert isinstance(error, ValidationFailed)
    assert error.field_errors == {
        "": echo["error"],
        "CustomerID": "'Customer' cannot be found in the system.",
        "Details[1].InventoryID": "'Inventory Item' cannot be found in the system.",
        "ShipToAddress.State": "State 'ZZ' not found.",
    }


def test_acumatica_field_errors_ignore_clean_entities():
    assert acumatica_field_errors({"CustomerID": {"value": "C1"}, "Details": []}) == {}


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ('Field "login" must be unique', "login"),
        ('Field "state" is required', "state"),
        ("Input validations failed: SKU O'NEIL/42 is not unique", "sku"),
        ("State with ID 999 not found", "state"),
        (
            "Input validations failed: price: This value should be greater than or equal to 0.",
            "price",
        ),
    ],
)
def test_xcart_400_details_become_field_errors(detail, field):
    error = classify_response(
        XCART, answer("PUT", 400, {"title": "An error occurred", "detail": detail})
    )
    assert isinstance(error, ValidationFailed)
    assert field in error.field_errors
