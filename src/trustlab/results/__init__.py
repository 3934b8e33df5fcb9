"""One versioned result document for every command (layout: ``SCHEMA.md`` beside this file).

:func:`result_document` assembles it, :func:`write_result` validates it against
the shipped JSON Schema (``schema.json``) and writes it; :func:`prepare_out`
checks an output folder before any work and :func:`staged_output` moves the
finished folder into place atomically.
"""

from trustlab._io import prepare_out, staged_output, write_json
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
    "label_info",
    "prepare_out",
    "read_result",
    "result_document",
    "result_schema",
    "staged_output",
    "validate_result",
    "write_json",
    "write_result",
]
