"""Reading infra/template.yaml: CloudFormation's short-form tags (!Sub, !Ref, ...) as their
long-form mappings, with a safe loader."""
from __future__ import annotations

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
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_intrinsic)


def parse_template(body: str) -> dict[str, Any]:
    return yaml.load(body, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
