import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.marketing.domain import AudienceMember
from services.marketing.domain.templating import Rendered, RenderError, TemplateParts, contact_context, render, validate

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def context(given: str = "Ada", **custom) -> dict:
    member = AudienceMember("T", "C", "ada@example.com", given, "L", "LEAD", (), NOW, custom_fields=custom)
    return {"contact": contact_context(member)}


def parts(subject: str = "Hi", html: str = "", text: str = "") -> TemplateParts:
    return TemplateParts(subject, html, text)


def test_personalisation_with_fallbacks_and_escaped_html():
    template = parts(
        "Hello {{ contact.givenName | default('there') }}",
        "<p>Hi {{ contact.givenName | default('there') }}, plan {{ contact.customFields.plan | default('free') }}</p>",
        "Hi {{ contact.givenName | default('there') }}",
    )
    assert render(template, context()) == Rendered("Hello Ada", "<p>Hi Ada, plan free</p>", "Hi Ada")
    assert render(template, context(given="")).subject == "Hello there"  # type: ignore[union-attr]
    hostile = render(template, context(given="<script>x</script>"))
    assert isinstance(hostile, Rendered)
    assert "&lt;script&gt;" in hostile.html_body and hostile.text_body == "Hi <script>x</script>"


def test_a_missing_variable_is_an_error_for_that_recipient_not_a_blank():
    result = render(parts("Hi", "<p>{{ contact.givenName }}</p>", "{{ contact.nickname }}"), context(given=""))
    assert isinstance(result, RenderError) and result.part == "htmlBody"


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.items.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% for i in range(10**8) %}{% endfor %}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 999999 }}",
    ],
)
def test_sandbox_escapes_and_resource_abuse_are_refused(source):
    result = render(parts("Hi", "", source), context())
    assert isinstance(result, RenderError), result


def test_validation_names_the_broken_part():
    with pytest.raises(InvalidArgument) as caught:
        validate(TemplateParts("{{ oops", "", "{% if %}"))
    assert {v.field for v in caught.value.violations} == {"subject", "textBody"}
    with pytest.raises(InvalidArgument) as caught:
        validate(TemplateParts("", "", ""))
    assert {v.field for v in caught.value.violations} == {"subject", "htmlBody"}
