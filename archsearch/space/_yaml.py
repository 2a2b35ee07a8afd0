"""YAML loading that remembers the line of every key and item, for error messages."""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import SpaceError

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_yaml(text: str, source: str) -> tuple[Any, dict[Path, int]]:
    """Parse ``text`` safely; return the data and a map from field path to 1-based line."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as err:  # e.g. a control character: the reader refuses it up front
        raise SpaceError(source, "", f"not a YAML text: {err}") from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "invalid YAML"
        raise SpaceError(source, "", f"YAML syntax error: {problem}", line) from None
    except yaml.YAMLError as err:
        raise SpaceError(source, "", f"YAML error: {err}") from None
    except RecursionError:
        raise SpaceError(source, "", "YAML nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is not None:
        try:
            _record_lines(node, (), lines, source)
        except RecursionError:
            raise SpaceError(source, "", "YAML nested too deeply (or a recursive alias)") from None
    return data, lines


def _record_lines(node: yaml.Node, path: Path, lines: dict[Path, int], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen and key != "<<":
                raise SpaceError(
                    source,
                    format_path((*path, key)),
                    "key given twice",
                    key_node.start_mark.line + 1,
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record_lines(item, (*path, index), lines, source)
