"""Tickets over real gRPC on PostgreSQL: lifecycle, comments, filters, etags, tenancy, events."""

import grpc
import pytest
from crm.support.v1 import agents_pb2, agents_pb2_grpc, tickets_pb2, tickets_pb2_grpc

from tests.integration.support_helpers import AGENT_A, AGENT_B, READER_A, as_, code_of, violations

T = tickets_pb2.Ticket


@pytest.fixture
def stub(support):
    return support.stub(tickets_pb2_grpc.TicketsServiceStub)


def create(stub, principal=AGENT_A, **fields):
    fields = {"subject": "Printer on fire", "requester_id": "C1", **fields}
    return stub.CreateTicket(tickets_pb2.CreateTicketRequest(ticket=T(**fields)), metadata=as_(principal), timeout=5)


def update(stub, ticket_id, paths, principal=AGENT_A, **fields):
    request = tickets_pb2.UpdateTicketRequest(id=ticket_id, ticket=T(**fields), update_mask={"paths": paths})
    return stub.UpdateTicket(request, metadata=as_(principal), timeout=5)


def test_a_ticket_goes_through_its_lifecycle_with_history_and_one_event_per_change(support, stub):
    ticket = create(stub, priority=T.HIGH, channel=T.EMAIL, tags=["printer"], external_thread_id="<m1@example.com>")
    assert (ticket.status, ticket.priority, ticket.channel) == (T.NEW, T.HIGH, T.EMAIL)
    assert [h.kind for h in ticket.history] == ["created", "queued"], "no agents: it waits in the queue"
    ticket = update(stub, ticket.id, ["status"], status=T.OPEN)
    ticket = update(stub, ticket.id, ["status"], status=T.PENDING)
    ticket = update(stub, ticket.id, ["status"], status=T.SOLVED)
    assert ticket.HasField("solve_time")
    ticket = update(stub, ticket.id, ["status"], status=T.OPEN)
    assert ticket.reopen_count == 1
    closed = stub.CloseTicket(tickets_pb2.CloseTicketRequest(id=ticket.id, etag=ticket.etag), metadata=as_(AGENT_A))
    assert closed.status == T.CLOSED
    assert [h.message for h in closed.history if h.kind == "status"] == [
        "status NEW -> OPEN",
        "status OPEN -> PENDING",
        "status PENDING -> SOLVED",
        "status SOLVED -> OPEN",
        "status OPEN -> CLOSED",
    ]
    assert support.event_types(ticket.id) == ["TicketCreated"] + ["TicketStatusChanged", "TicketUpdated"] * 5
    reopen = lambda: update(stub, ticket.id, ["status"], status=T.OPEN)  # noqa: E731
    assert code_of(reopen) == grpc.StatusCode.FAILED_PRECONDITION


def test_an_illegal_transition_is_refused_and_writes_nothing(support, stub):
    ticket = create(stub)
    opened = update(stub, ticket.id, ["status"], status=T.OPEN)
    before = support.event_types()
    assert code_of(lambda: update(stub, ticket.id, ["status"], status=T.NEW)) == grpc.StatusCode.FAILED_PRECONDITION
    assert support.event_types() == before
    assert stub.GetTicket(tickets_pb2.GetTicketRequest(id=ticket.id), metadata=as_(AGENT_A)).etag == opened.etag


def test_invalid_input_names_each_field_and_writes_nothing(support, stub):
    bad = lambda: create(stub, subject="", requester_id="", tags=[""])  # noqa: E731
    assert violations(bad) == {"subject", "requester_id", "tags"}
    assert support.events() == []


def test_comments_are_public_replies_or_internal_notes_and_set_the_first_response(support, stub):
    ticket = create(stub, external_thread_id="<m1@example.com>")
    note = tickets_pb2.Comment(body="check the toner", visibility=tickets_pb2.Comment.INTERNAL)
    stub.AddComment(tickets_pb2.AddCommentRequest(ticket_id=ticket.id, comment=note), metadata=as_(AGENT_A))
    reply = tickets_pb2.Comment(body="We are on it", external_message_id="<m2@x>", in_reply_to="<m1@example.com>")
    added = stub.AddComment(tickets_pb2.AddCommentRequest(ticket_id=ticket.id, comment=reply), metadata=as_(AGENT_A))
    assert (added.visibility, added.author_type, added.author_id) == (
        tickets_pb2.Comment.PUBLIC,
        tickets_pb2.Comment.AGENT,
        "apikey:a",
    )
    listed = stub.ListComments(tickets_pb2.ListCommentsRequest(ticket_id=ticket.id), metadata=as_(AGENT_A))
    assert [c.body for c in listed.comments] == ["check the toner", "We are on it"]
    got = stub.GetTicket(tickets_pb2.GetTicketRequest(id=ticket.id), metadata=as_(AGENT_A))
    assert got.first_response_time.ToDatetime() == added.create_time.ToDatetime()
    comment_events = [e for e in support.events(ticket.id) if e.type.endswith("CommentAdded")]
    from crm.support.v1 import events_pb2

    threaded = events_pb2.CommentAdded.FromString(comment_events[-1].data)
    assert (threaded.external_thread_id, threaded.comment.in_reply_to) == ("<m1@example.com>", "<m1@example.com>")


def test_lists_filter_by_status_and_assignee_and_page_through(support, stub):
    agents = support.stub(agents_pb2_grpc.AgentsServiceStub)
    a1, a2 = (
        agents.CreateAgent(
            agents_pb2.CreateAgentRequest(agent=agents_pb2.Agent(display_name=name, capacity=5)), metadata=as_(AGENT_A)
        ).id
        for name in ("Ann", "Bob")
    )
    mine = [create(stub, subject=f"S{n}", assignee_id=a1).id for n in range(3)]
    other = create(stub, assignee_id=a2)
    update(stub, other.id, ["status"], status=T.PENDING)
    unassigned = create(stub)
    seen, token = [], ""
    while True:
        page = stub.ListTickets(
            tickets_pb2.ListTicketsRequest(filter=f'assigneeId = "{a1}"', page_size=2, page_token=token),
            metadata=as_(AGENT_A),
        )
        seen += [t.id for t in page.tickets]
        token = page.next_page_token
        if not token:
            break
    assert seen == mine
    opened = stub.ListTickets(tickets_pb2.ListTicketsRequest(filter='status = "OPEN"'), metadata=as_(AGENT_A))
    assert [t.id for t in opened.tickets] == mine, "assigned by hand, so opened"
    pending = stub.ListTickets(tickets_pb2.ListTicketsRequest(filter='status = "PENDING"'), metadata=as_(AGENT_A))
    assert [t.id for t in pending.tickets] == [other.id]
    nobody = stub.ListTickets(tickets_pb2.ListTicketsRequest(filter='assigneeId = ""'), metadata=as_(AGENT_A))
    assert [t.id for t in nobody.tickets] == [unassigned.id]
    bad = lambda: stub.ListTickets(tickets_pb2.ListTicketsRequest(filter="mood = happy"), metadata=as_(AGENT_A))  # noqa: E731
    assert violations(bad) == {"filter"}


def test_a_stale_etag_is_aborted_and_changes_nothing(support, stub):
    ticket = create(stub)
    stale = lambda: update(stub, ticket.id, ["subject"], subject="B", etag="stale")  # noqa: E731
    assert code_of(stale) == grpc.StatusCode.ABORTED
    close = lambda: stub.CloseTicket(tickets_pb2.CloseTicketRequest(id=ticket.id, etag="stale"), metadata=as_(AGENT_A))  # noqa: E731
    assert code_of(close) == grpc.StatusCode.ABORTED
    assert support.event_types() == ["TicketCreated"]


def test_another_tenants_ticket_does_not_exist_for_you(stub):
    ticket = create(stub)
    calls = [
        lambda m: stub.GetTicket(tickets_pb2.GetTicketRequest(id=ticket.id), metadata=m),
        lambda m: update(stub, ticket.id, ["subject"], principal=AGENT_B, subject="Mine"),
        lambda m: stub.CloseTicket(tickets_pb2.CloseTicketRequest(id=ticket.id), metadata=m),
        lambda m: stub.AddComment(
            tickets_pb2.AddCommentRequest(ticket_id=ticket.id, comment=tickets_pb2.Comment(body="x")), metadata=m
        ),
        lambda m: stub.ListComments(tickets_pb2.ListCommentsRequest(ticket_id=ticket.id), metadata=m),
    ]
    for call in calls:
        assert code_of(lambda c=call: c(as_(AGENT_B))) == grpc.StatusCode.NOT_FOUND
    assert stub.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(AGENT_B)).tickets == []


def test_reading_needs_support_read_and_writing_support_write(support, stub):
    assert code_of(lambda: create(stub, READER_A)) == grpc.StatusCode.PERMISSION_DENIED
    assert stub.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(READER_A)).tickets == []
    assert support.events() == []
