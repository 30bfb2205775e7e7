#!/usr/bin/env python3
"""Checks openapi/openapi.yaml (scripts/test runs it, in .venv-test):

1. it is a valid OpenAPI 3.1 document (openapi-spec-validator);
2. the document the Gateway serves (Sources/GatewayContract/Document.swift) is generated from it:
   otherwise run openapi/generate.sh;
3. the house rules: every operation has an operationId, every JSON-body operation documents 400,
   413 and 415, every operation behind a token documents 401, and every error answer is the
   Error schema.
Exits 1 naming every problem.
"""

import json
import re
import sys
from pathlib import Path

import yaml
from openapi_spec_validator import validate

HERE = Path(__file__).resolve().parent
SPEC = HERE / "openapi.yaml"
DOCUMENT = HERE.parent / "Sources" / "GatewayContract" / "Document.swift"


def main() -> int:
    problems = []
    spec = yaml.safe_load(SPEC.read_text())
    try:
        validate(spec)
    except Exception as error:  # the validator's own error names the place
        problems.append(f"not a valid OpenAPI document: {error}")

    match = re.search(r'#"""\n(.*)\n"""#', DOCUMENT.read_text(), re.S)
    served = json.loads(match.group(1)) if match else None
    if served != spec:
        problems.append("Sources/GatewayContract is older than openapi.yaml: run openapi/generate.sh and commit its output")

    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            responses = operation.get("responses", {})
            if "operationId" not in operation:
                problems.append(f"{name}: no operationId")
            if "requestBody" in operation:
                for code in ("400", "413", "415"):
                    if code not in responses:
                        problems.append(f"{name}: takes a JSON body but does not document {code}")
            if operation.get("security") and "401" not in responses:
                problems.append(f"{name}: needs a token but does not document 401")
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                    if schema and schema.get("$ref") not in ("#/components/schemas/Error", "#/components/schemas/NotReady"):
                        problems.append(f"{name} {code}: an error answer that is not the Error schema")

    for problem in problems:
        print(f"openapi/check.py: {problem}", file=sys.stderr)
    if not problems:
        print("openapi/check.py: openapi.yaml is valid, generated, and keeps the house rules")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
