"""The outbox row carries the writer's trace context, and the consumer's span continues that trace."""

import pytest
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crmkit.db import utcnow
from crmkit.events.outbox import Outbox
from services.contacts import events
from services.contacts.domain import ContactFields, new_contact
from services.contacts.store import OUTBOX
from services.marketing.events import CONSUMER, contact_projection


@pytest.fixture(scope="module")
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another test installed a tracer provider first"
    return exporter


def test_a_consumer_span_is_a_child_of_the_request_that_wrote_the_event(migrated, spans):
    contacts_db, marketing_db = migrated("contacts"), migrated("marketing")
    contact = new_contact("01CONTACT", "T1", ContactFields(given_name="Ada"), utcnow())
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/contacts") as request_span, contacts_db.transaction() as session:
        envelope = Outbox("contacts", OUTBOX).add(
            session, events.contact_created(contact), tenant_id="T1", subject=contact.id
        )
    with contacts_db.transaction() as session:
        stored = Envelope.FromString(session.execute(sa.select(OUTBOX.c.payload)).scalar_one())
    trace_id = f"{request_span.get_span_context().trace_id:032x}"
    assert stored.traceparent == envelope.traceparent and stored.traceparent.split("-")[1] == trace_id

    contact_projection(marketing_db).handle(stored.SerializeToString(), 0)
    [consumer_span] = [s for s in spans.get_finished_spans() if s.name == f"{CONSUMER} process"]
    assert consumer_span.kind == trace.SpanKind.CONSUMER
    assert consumer_span.context.trace_id == request_span.get_span_context().trace_id
    assert consumer_span.parent.span_id == request_span.get_span_context().span_id
    assert consumer_span.attributes["crm.tenant_id"] == "T1"
    assert "Ada" not in repr(dict(consumer_span.attributes)), "no personal data in span attributes"
