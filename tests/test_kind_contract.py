"""Every provider kind has every part a kind needs, found through the registries alone.

Adding an ESP (docs/adding-an-esp.md) means an adapter, a form, its callback formats with a
sample, its page fragments, real payloads and tests; this fails, naming the part, while any is
missing.
"""

from pathlib import Path

import pytest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from callbacks.formats import KIND_FORMATS, named
from providers.adapters import ADAPTERS
from providers.forms import FORMS
from providers.models import EmailProvider

TESTS = Path(__file__).parent
PAYLOADS = TESTS / "callbacks" / "payloads"
FRAGMENTS = ("intro", "setup", "advice", "details")

KINDS = list(EmailProvider.Kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_kind_sends_through_its_own_adapter_and_is_set_up_with_its_own_form(kind):
    assert kind in ADAPTERS, f"no adapter for {kind} in providers.adapters.ADAPTERS"
    assert kind in FORMS, f"no form for {kind} in providers.forms.FORMS"
    assert FORMS[kind].kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_the_kind_has_its_page_fragments(kind):
    for fragment in FRAGMENTS:
        name = f"providers/kinds/_{fragment}_{kind}.html"
        try:
            get_template(name)
        except TemplateDoesNotExist:
            pytest.fail(f"no {name}")


@pytest.mark.parametrize("kind", KINDS)
def test_the_kinds_callbacks_have_formats_a_sample_and_real_payloads(kind):
    assert kind in KIND_FORMATS, f"no callback formats for {kind} in KIND_FORMATS"
    entry = KIND_FORMATS[kind]
    assert entry.sample_format in entry.formats
    sample = entry.parse(entry.sample_format.sample())
    assert sample.errors == [] and len(sample) > 0
    for fmt in entry.formats:
        assert named(fmt.name) is fmt
        fixtures = sorted(PAYLOADS.glob(f"{fmt.name}_*.json"))
        assert fixtures, f"no payload fixtures tests/callbacks/payloads/{fmt.name}_*.json"
        for fixture in fixtures:
            assert entry.parse(fixture.read_bytes()).total > 0, fixture.name


@pytest.mark.parametrize("kind", KINDS)
def test_the_kind_has_its_adapter_test_module(kind):
    adapter_module = ADAPTERS[kind].__module__.rsplit(".", 1)[1]
    assert (TESTS / "providers" / f"test_{adapter_module}_adapter.py").exists()
