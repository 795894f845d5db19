"""CloudFormation YAML: reading infra/template.yaml (the short-form tags !Sub, !Ref, ... as their
long-form mappings, with a safe loader) and writing it (infra/template.py renders the tags)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class _TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation's intrinsic-function tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # the only other kind of node
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_intrinsic)


def parse_template(body: str) -> dict[str, Any]:
    return yaml.load(body, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass


# --- writing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tag:
    """A short-form intrinsic: Tag("Sub", "sellerops-${Stage}") is written `!Sub "sellerops-${Stage}"`."""

    name: str
    value: Any


def Sub(text: str) -> Tag:  # noqa: N802 - named as CloudFormation names it
    return Tag("Sub", text)


def Ref(name: str) -> Tag:  # noqa: N802
    return Tag("Ref", name)


def GetAtt(target: str) -> Tag:  # noqa: N802
    return Tag("GetAtt", target)


def FindInMap(*path: str) -> Tag:  # noqa: N802
    return Tag("FindInMap", list(path))


class _TemplateDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice, as a person would

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)  # lists indented under their key, as people write them


def _represent_tag(dumper: yaml.SafeDumper, tag: Tag) -> yaml.Node:
    if isinstance(tag.value, list):
        return dumper.represent_sequence(f"!{tag.name}", tag.value, flow_style=True)
    return dumper.represent_scalar(f"!{tag.name}", tag.value,
                                   style='"' if "$" in tag.value or ":" in tag.value else None)


_TemplateDumper.add_representer(Tag, _represent_tag)


def dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_TemplateDumper, sort_keys=False, default_flow_style=False, width=100,
                     allow_unicode=True)
