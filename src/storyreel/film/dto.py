"""The communication models: context and output DTOs derived from the Film, never written twice.

``strict(Model)`` rebuilds a Film model with ``pydantic.create_model``: every field required, ``None`` removed from
its type, descriptions copied, nested models rebuilt the same way, fields left out on request (ids, paths the
engine fills in). The JSON Schema of such a model is accepted by strict structured output: every object has
``additionalProperties: false`` and lists every property as required, and nothing else but types, enums,
descriptions and ``$ref``/``$defs``.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

_UNSUPPORTED = {"title", "default", "examples", "minLength", "maxLength", "pattern", "format", "minimum",
                "maximum", "minItems", "maxItems", "uniqueItems", "exclusiveMinimum", "exclusiveMaximum"}


class DTO(BaseModel):
    """Base of every derived model: closed objects, strict-output friendly schema."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args, **kwargs) -> dict[str, Any]:  # type: ignore[override]
        return _clean(super().model_json_schema(*args, **kwargs))


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _clean(v) for k, v in node.items() if k not in _UNSUPPORTED and k not in ("properties", "$defs")}
        # property and model names may look like keywords ("title"): walk those maps by their values only
        for mapping in ("properties", "$defs"):
            if mapping in node:
                out[mapping] = {k: _clean(v) for k, v in node[mapping].items()}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"].keys())
        return out
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


_cache: dict[tuple, type[BaseModel]] = {}


def _strip_none(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return _strip_none(args[0]) if len(args) == 1 else Union[tuple(_strip_none(a) for a in args)]  # noqa: UP007
    return tp


def _convert(tp: Any, prefix: str, exclude: dict[str, set[str]]) -> Any:
    tp = _strip_none(tp)
    origin = get_origin(tp)
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return list[_convert(inner, prefix, exclude)]
    if origin is Literal:
        return tp
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return strict(tp, exclude=exclude.get(prefix, set()), _nested=exclude, _prefix=prefix)
    return tp


def strict(model: type[BaseModel], *, exclude: set[str] | frozenset[str] = frozenset(), name: str | None = None,
           _nested: dict[str, set[str]] | None = None, _prefix: str = "") -> type[BaseModel]:
    """A strict twin of ``model``. ``exclude`` names fields to leave out; dotted names reach nested models
    (``{"dialogue.id"}`` leaves ``id`` out of each dialogue line)."""
    nested = dict(_nested or {})
    own: set[str] = set()
    for path in exclude:
        head, _, rest = path.partition(".")
        if rest:
            key = f"{_prefix}.{head}" if _prefix else head
            nested.setdefault(key, set()).add(rest)
        else:
            own.add(head)
    key = (model, name, _prefix, frozenset(own), tuple(sorted((k, frozenset(v)) for k, v in nested.items())))
    if key in _cache:
        return _cache[key]
    fields: dict[str, Any] = {}
    hints = typing.get_type_hints(model)
    for fname, info in model.model_fields.items():
        if fname in own:
            continue
        sub = f"{_prefix}.{fname}" if _prefix else fname
        fields[fname] = (_convert(hints[fname], sub, nested), Field(..., description=info.description))
    built = create_model(name or f"{model.__name__}Out", __base__=DTO, **fields)
    _cache[key] = built
    return built


def make(name: str, doc: str, /, *, validators: dict[str, Any] | None = None,
         **fields: tuple[Any, str]) -> type[BaseModel]:
    """A DTO from (type, description) pairs; nested Film models are made strict."""
    spec = {k: (_convert(tp, k, {}), Field(..., description=desc)) for k, (tp, desc) in fields.items()}
    model = create_model(name, __base__=DTO, __validators__=validators or {}, **spec)
    model.__doc__ = doc
    return model


def check_strict_schema(schema: dict[str, Any], where: str = "$") -> list[str]:
    """Problems that strict structured output would reject; empty when the schema is acceptable."""
    problems: list[str] = []
    if isinstance(schema, dict):
        for k in schema:
            if k in _UNSUPPORTED and not where.endswith("$defs"):
                problems.append(f"{where}: unsupported keyword {k!r}")
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties")
            if props is None:
                problems.append(f"{where}: free-form object (no properties)")
            else:
                if schema.get("additionalProperties") is not False:
                    problems.append(f"{where}: additionalProperties is not false")
                if sorted(schema.get("required", [])) != sorted(props):
                    problems.append(f"{where}: not every property is required")
        if isinstance(schema.get("additionalProperties"), dict):
            problems.append(f"{where}: free-form dict")
        for k, v in schema.items():
            if k == "properties":
                for pk, pv in v.items():
                    problems += check_strict_schema(pv, f"{where}.{pk}")
            elif isinstance(v, (dict, list)):
                problems += check_strict_schema(v, f"{where}.{k}")
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            problems += check_strict_schema(v, f"{where}[{i}]")
    return problems
