"""Playwright evaluates a wait_for_function predicate written as a bare expression with eval(), which our
Content Security Policy (script-src 'self', no 'unsafe-eval') refuses as soon as the first check is false
and it has to poll: such a wait passes while the page is fast and fails when it is slow. Written as a
function ("() => …") it is called through the browser's debugging protocol, which the policy allows."""

from __future__ import annotations

import ast
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def predicate_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def test_every_browser_wait_is_written_as_a_function_so_the_policy_lets_it_poll():
    bare = []
    for path in sorted(BROWSER_TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for_function"
                and node.args
                and (text := predicate_text(node.args[0])) is not None
                and not text.lstrip().startswith(("(", "function", "async"))
            ):
                bare.append(f"{path.name}:{node.lineno}: {text.strip()[:60]}")
    assert len(list(BROWSER_TESTS.rglob("*.py"))) > 5
    assert bare == [], "write these as '() => …':\n" + "\n".join(bare)
