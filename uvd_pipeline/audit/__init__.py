"""Composition: the planner (`uvd plan`), quotas from targets, and the audit report (`uvd audit`).

Modules import their heavy dependencies (matplotlib, rich) lazily; `targets` and `quota` are light
enough for the recipe and the build to use.
"""
