"""Errors no domain rule raised map to what the caller can do about them: a uniqueness race is
ALREADY_EXISTS (409), a bug is INTERNAL with no details — on both database backends."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa

from crmkit.db import Database
from crmkit.grpcserver import start_server
from crmkit.tokens import InternalTokens, Principal

TOKENS = InternalTokens("u" * 40)
TABLE = sa.Table("uniq", sa.MetaData(), sa.Column("k", sa.String(10), primary_key=True))


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, databases, tmp_path):
    url = databases.create("uniq") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'u.db'}"
    database = Database(url)
    TABLE.create(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def call(database):
    def insert_twice(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        with database.transaction() as session:
            session.execute(sa.insert(TABLE).values(k="same"))
            session.execute(sa.insert(TABLE).values(k="same"))
        return b""

    def broken(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        raise KeyError("secret internals")

    handler = grpc.method_handlers_generic_handler(
        "crmtest.Errors",
        {
            "InsertTwice": grpc.unary_unary_rpc_method_handler(insert_twice),
            "Broken": grpc.unary_unary_rpc_method_handler(broken),
        },
    )
    server = start_server(
        "test", [(lambda _s, srv: srv.add_generic_rpc_handlers((handler,)), None)], [], "127.0.0.1:0", TOKENS
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    metadata = [("authorization", f"Bearer {TOKENS.mint(Principal('T', 's', frozenset()))}")]

    def invoke(method: str) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(f"/crmtest.Errors/{method}")(b"", metadata=metadata, timeout=10)
        return caught.value

    yield invoke
    channel.close()
    server.stop(0)


def test_a_uniqueness_conflict_is_already_exists(call):
    error = call("InsertTwice")
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "uniq" not in error.details() and "same" not in error.details(), "no table or value leaks"


def test_a_bug_is_internal_and_says_nothing_of_its_cause(call):
    error = call("Broken")
    assert (error.code(), error.details()) == (grpc.StatusCode.INTERNAL, "internal error")
