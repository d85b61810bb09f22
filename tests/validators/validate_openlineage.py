"""Validates OpenLineage run events with the official schemas.

Usage: python3 validate_openlineage.py SCHEMAS_DIR EVENTS.jsonl

SCHEMAS_DIR/openlineage/ holds OpenLineage.json (the 2-0-2 event schema) and facets/*.json, as the
OpenLineage repository publishes them. Every line of EVENTS.jsonl must be a RunEvent that the event
schema accepts (formats checked: uuid, date-time, uri), and every facet in it must be one the
facets' schemas define and accept: a facet is checked against the schema its `_schemaURL` names,
which must be one of the files given. Prints the number of events; exits 1 naming the event and the
problem on failure.
"""
import json
import sys
from pathlib import Path

import jsonschema
from referencing import Registry, Resource


def main():
    root = Path(sys.argv[1]) / "openlineage"
    docs = [json.loads(root.joinpath("OpenLineage.json").read_text())]
    docs += [json.loads(p.read_text()) for p in sorted(root.joinpath("facets").glob("*.json"))]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    missing = {"uuid", "date-time", "uri"} - set(checker.checkers)
    if missing:
        sys.exit(f"jsonschema cannot check {sorted(missing)}: pip install rfc3986-validator rfc3339-validator")

    def validator(url):
        return jsonschema.Draft202012Validator({"$ref": url}, registry=registry, format_checker=checker)

    event_schema = validator("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent")
    known = {d["$id"] for d in docs}
    failures = 0
    lines = Path(sys.argv[2]).read_text().splitlines()
    for n, line in enumerate(lines, 1):
        event = json.loads(line)
        problems = [e.message for e in event_schema.iter_errors(event)]
        for where, facets in facets_of(event):
            for name, facet in facets.items():
                url = facet.get("_schemaURL", "")
                if url.split("#")[0] not in known:
                    problems.append(f"{where}.{name}: _schemaURL {url!r} is not a schema given")
                    continue
                problems += [f"{where}.{name}: {e.message}" for e in validator(url).iter_errors(facet)]
        for p in problems:
            print(f"event {n} ({event.get('eventType')} {event.get('job', {}).get('name')}): {p}", file=sys.stderr)
        failures += len(problems)
    print(f"{len(lines)} events")
    sys.exit(1 if failures or not lines else 0)


def facets_of(event):
    yield "run.facets", event["run"].get("facets", {})
    yield "job.facets", event["job"].get("facets", {})
    for kind in ("inputs", "outputs"):
        for d in event.get(kind, []):
            yield f"{kind}[{d['name']}].facets", d.get("facets", {})


if __name__ == "__main__":
    main()
