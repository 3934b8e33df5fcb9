"""One versioned result document for every command (layout: ``SCHEMA.md`` beside this file).

:func:`result_document` assembles it, :func:`write_result` validates it against
the shipped JSON Schema (``schema.json``) and writes it; :func:`prepare_out`
checks an output folder before any work and :func:`staged_output` moves the
finished folder into place atomically. :func:`mean_ci` and :func:`fmt_ci` summarise a
number over seeds (mean and Student-t interval), :func:`versions` records the libraries
that shape the numbers.
"""

from trustlab._io import prepare_out, staged_output, versions, write_json
from trustlab._stats import fmt_ci, mean_ci
from trustlab.results._document import (
    ARMS,
    PARTS,
    SCHEMA_VERSION,
    ResultSchemaError,
    label_info,
    read_result,
    result_document,
    result_schema,
    validate_result,
    write_result,
)

__all__ = [
    "ARMS",
    "PARTS",
    "SCHEMA_VERSION",
    "ResultSchemaError",
    "fmt_ci",
    "label_info",
    "mean_ci",
    "prepare_out",
    "read_result",
    "result_document",
    "result_schema",
    "staged_output",
    "validate_result",
    "versions",
    "write_json",
    "write_result",
]
