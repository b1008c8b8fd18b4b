"""The communication models: derived from the Film, strict-output friendly, descriptions copied."""

from __future__ import annotations

import pytest

from storyreel.film import dto
from storyreel.film.models import Film, LoreOption, Shot
from storyreel.steps import STEPS
from storyreel.steps.base import context_model


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_every_output_schema_is_strict(step):
    schema = step.output.model_json_schema()
    assert dto.check_strict_schema(schema) == []
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_every_context_model_builds_with_descriptions(step):
    model = context_model(step)
    assert set(model.model_fields) == {r.key for r in step.reads}
    for name, field in model.model_fields.items():
        assert field.description, f"{step.name}.{name} has no description"
        assert field.is_required()


def test_descriptions_are_copied_from_the_film():
    out = dto.strict(Shot, exclude={"id"})
    for name, field in out.model_fields.items():
        assert field.description == Shot.model_fields[name].description
        assert field.is_required()
    assert "id" not in out.model_fields


def test_checker_catches_what_strict_output_rejects():
    assert dto.check_strict_schema({"type": "object", "properties": {"a": {"type": "string"}},
                                    "required": []})
    assert dto.check_strict_schema({"type": "object", "additionalProperties": {"type": "string"}})
    assert dto.check_strict_schema({"type": "string", "minLength": 3})
    assert not dto.check_strict_schema(dto.strict(LoreOption).model_json_schema())


def test_every_film_field_has_a_description():
    def walk(model, seen):
        if model in seen:
            return
        seen.add(model)
        for name, f in model.model_fields.items():
            assert f.description, f"{model.__name__}.{name}"
            for t in getattr(f.annotation, "__args__", ()) + (f.annotation,):
                inner = getattr(t, "__args__", (t,))
                for x in inner:
                    if isinstance(x, type) and hasattr(x, "model_fields"):
                        walk(x, seen)

    walk(Film, set())
