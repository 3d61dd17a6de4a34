"""Schemathesis hooks for scripts/schemathesis.sh.

The OpenAPI document states every rule of a single value that JSON Schema can state (types,
formats, ranges, lengths, patterns, enums, required and unknown fields). A few rules cannot be
stated in JSON Schema at all, and a request breaking one is a schema-valid request that the API
rightly refuses. Only those "schema-valid request rejected" (ST202) failures are dropped here, and
only when the API's own error names such a rule; every other failure of every check stands
(5xx, response not as documented, invalid request accepted, ...). Schemathesis counts what this
drops in its summary.

One check is added: with ST_ROLE set (scripts/schemathesis.sh runs as a rep and as an analyst
too), an operation whose `x-roles` does not list that role must never answer 2xx.
"""

import json
import os
import re
import sys

import schemathesis

# (field as the API's error names it, with list indexes removed; message pattern; why JSON Schema
# cannot state the rule)
NOT_STATABLE = [
    # Keyset cursors are opaque: only the `next` values the API returned are valid.
    ("after", r"is not a cursor returned by a previous page", "opaque cursor"),
    # References to other records: whether the id exists is the database's to say.
    (None, r"does not exist", "reference to a record"),
    (None, r"not found|does not belong to", "reference to a record"),
    ("order_ref", r"has no order", "reference to a record"),
    # If-Match and expected_version both give the version read: they must agree.
    ("expected_version", r"disagree", "two parameters"),
    # The path names the order; a body naming another one is refused.
    ("order_ref", r"cannot be changed", "path and body"),
    # Rules between two fields.
    ("holdout_end", r"must come after the calibration end", "two fields"),
    ("calibration_end", r"lies before the first order", "stored state"),
    ("due_on", r"is before the issue date", "two fields"),
    ("instalments.due_on", r"is before the issue date", "two fields"),
    ("instalments", r"add up to", "sum of several fields"),
    ("to", r"before|after", "two fields"),
    ("from", r"before|after", "two fields"),
    # What an invoice still owes depends on the payments recorded so far.
    ("amount", r"still owed", "stored state"),
]

# Amount rules checked after the text form is read: the document states them on the number form;
# a pattern cannot state a numeric range on text.
AMOUNT_RANGE = re.compile(r"must be more than 0|must be 0 or more|must not be negative|is larger than")


def _errors(response):
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors") or []
    if not errors and "field" in body:
        errors = [{"field": body.get("field", ""), "message": body.get("message", "")}]
    return errors or None


def _value_at(body, path):
    """The request body's value at an error path such as `lines[0].amount`."""
    node = body
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _not_statable(error, case):
    field = error.get("field") or ""
    message = error.get("message") or ""
    plain = re.sub(r"\[\d+\]", "", field)
    for name, pattern, _why in NOT_STATABLE:
        if (name is None or name == plain) and re.search(pattern, message):
            return True
    if AMOUNT_RANGE.search(message) and isinstance(_value_at(case.body, field), str):
        return True
    return False


# `DELETE /api/customers/{id}` archives: the customer leaves the lists but stays readable by id
# (marked archived, restorable; only an admin's purge deletes it), so reading it afterwards is
# no "deleted resource still available" (ST301). Every other DELETE keeps that check.
ARCHIVED_NOT_DELETED = re.compile(r"DELETE /api/customers/[^/]+")


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Keeps every failure except ST202 on rules JSON Schema cannot state, and ST301 after an
    archiving DELETE of a customer."""
    if getattr(failure, "code", None) == "ST301" and ARCHIVED_NOT_DELETED.fullmatch(
        getattr(failure, "free", "") or ""
    ):
        return False
    if getattr(failure, "code", None) != "ST202" or response is None:
        return True
    if response.status_code not in (400, 422):
        return True
    errors = _errors(response)
    if errors is None:
        return True
    # Stateful runs follow links from nullable response fields (an audit row's customer_id)
    # and put Python's None into an integer path parameter: that request is not schema-valid.
    path_params = getattr(case, "path_parameters", None) or {}
    if any(v is None or v == "None" for v in path_params.values()) and all(
        e.get("field") in path_params for e in errors
    ):
        return False
    keep = not all(_not_statable(e, case) for e in errors)
    if not keep and os.environ.get("ST_HOOKS_DEBUG"):
        print(f"dropped ST202: {case.operation.label}: {errors}", file=sys.stderr)
    return keep


@schemathesis.check
def role_not_allowed_is_refused(ctx, response, case):
    """A role the operation's `x-roles` leaves out gets no 2xx (403, or a 4xx for a bad request)."""
    role = os.environ.get("ST_ROLE")
    roles = (getattr(case.operation.definition, "raw", None) or {}).get("x-roles")
    if not role or roles is None or role in roles:
        return None
    if 200 <= response.status_code < 300:
        raise AssertionError(
            f"{case.operation.label} allows {roles} only, but the {role} got {response.status_code}"
        )
    return None
