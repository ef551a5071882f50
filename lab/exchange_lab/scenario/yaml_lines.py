"""YAML loading that remembers the line of every key, value and item, for error messages.
"""

from __future__ import annotations

from typing import Any

import yaml

from .schema import ScenarioError


class _LineDict(dict):
    """A mapping that remembers where its keys and values start (1-based lines)."""

    line: int
    key_lines: dict
    value_lines: dict
    duplicates: list  # (key, line, first_line)


class _LineList(list):
    """A sequence that remembers where it and each item start (1-based lines)."""

    line: int
    item_lines: list


class LineLoader(yaml.SafeLoader):
    """SafeLoader that records the start line of every mapping key and value
    and every sequence item, and notes duplicate keys instead of dropping them."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> _LineDict:
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)  # resolves << merge keys; merged pairs come first
    first_own = len(node.value) - own
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines, result.value_lines, result.duplicates = {}, {}, []
    from_merge: set = set()
    for position, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found unhashable key", key_node.start_mark) from None
        value = loader.construct_object(value_node, deep=True)
        key_line = key_node.start_mark.line + 1
        if key in result and position >= first_own and key not in from_merge:
            result.duplicates.append((key, key_line, result.key_lines[key]))
        if position < first_own:
            from_merge.add(key)
        else:
            from_merge.discard(key)
        result[key] = value
        result.key_lines[key] = key_line
        result.value_lines[key] = value_node.start_mark.line + 1
    return result


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList()
    result.line = node.start_mark.line + 1
    result.item_lines = []
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_lines.append(child.start_mark.line + 1)
    return result


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _parse_yaml(text: str, filename: str) -> Any:
    try:
        loader = LineLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parts = []
        if exc.context:
            ctx_line = f" (line {exc.context_mark.line + 1})" if exc.context_mark else ""
            parts.append(f"{exc.context}{ctx_line}")
        if exc.problem:
            parts.append(exc.problem)
        message = "YAML syntax error: " + ": ".join(parts)
        raise ScenarioError(filename, mark.line + 1 if mark else None, "", message) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(filename, None, "", f"YAML error: {exc}") from None

