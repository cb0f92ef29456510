"""Number formats shared by the audit's tables (console and HTML)."""

from __future__ import annotations


def fmt_int(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


def fmt_share(v: float | None, signed: bool = False) -> str:
    if v is None:
        return ""
    return f"{v * 100:+.2f}%" if signed else f"{v * 100:.2f}%"
