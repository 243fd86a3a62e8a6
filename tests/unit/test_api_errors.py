from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from gateway.errors import ApiError


def test_the_error_body_has_the_api_md_shape_with_json_field_names():
    error = ApiError.from_service_error(InvalidArgument.of([FieldViolation("given_name", "too long")]))
    assert error.http_status == 400
    assert error.body() == {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "given_name: too long",
            "details": [{"field": "givenName", "description": "too long"}],
        }
    }


def test_not_found_maps_to_404():
    error = ApiError.from_service_error(NotFound.resource("contact", "C1"))
    assert (error.http_status, error.body()["error"]["status"]) == (404, "NOT_FOUND")


def test_grpc_messages_lose_peer_addresses_before_they_reach_a_caller():
    from gateway.errors import _scrub

    text = "failed to connect to all addresses; last error: ipv4:10.0.3.7:50051: Connection refused [::1]:50051"
    assert _scrub(text) == "failed to connect to all addresses; last error: <address>: Connection refused <address>"
    assert _scrub("contact 01J8 not found") == "contact 01J8 not found"
