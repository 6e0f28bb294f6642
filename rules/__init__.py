"""Baton's rules: typed gates loaded from TOML rule files, evaluated when a record enters a status.

    load_rule_set(paths) -> RuleSet             read → resolve → validate → build (rules.loader)
    RuleSet.gates_entering(source, to, from)    the gates a transition fires
    evaluate_gate(gate, record) -> GateResult   failures in plain words + the values seen
    render(template, context) -> str            `{placeholder}` message templates

Modules: errors (Problem, RuleFileError), model (runtime objects), schema / schema_checks /
schema_sla (TOML shapes, each spec building its object), build (the build context), loader,
checks (the simple kinds), naming, utm, expressions (CEL), regex (RE2), sla, business_hours,
templates, values, lookup (cross-tool checks and the `Lookups` they read), evaluate.
"""
from __future__ import annotations

from .checks import Check, Condition
from .errors import Problem, RuleFileError
from .evaluate import evaluate_gate, failure_context, fields_read
from .loader import TABLE_READERS, load_rule_set
from .lookup import NO_LOOKUPS, Freshness, LookupCheck, Lookups
from .model import CheckFailure, Gate, GateResult, LateCheck, OnFail, OnPass, RuleSet, Taxonomy
from .tasks import TaskSpec
from .naming import NamingTemplate
from .templates import TemplateSyntaxError, parse_template, render
from .utm import UtmTaxonomy

__all__ = [
    "Check", "CheckFailure", "Condition", "Freshness", "Gate", "GateResult", "LateCheck", "LookupCheck", "Lookups",
    "NO_LOOKUPS", "NamingTemplate", "OnFail",
    "OnPass", "Problem", "RuleFileError", "RuleSet",
    "TABLE_READERS", "TaskSpec", "Taxonomy", "TemplateSyntaxError", "UtmTaxonomy",
    "evaluate_gate", "failure_context", "fields_read", "load_rule_set", "parse_template", "render",
]
