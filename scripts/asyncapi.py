"""Generate AsyncAPI 3.0 documents from the topic registry into docs/asyncapi/ (or --check drift).

One document per service, listing the topics it owns: commands it receives and events it sends.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from generated_documents import main

from igny8.contracts import TOPICS, Envelope

OUT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"


def document(service: str) -> dict[str, Any]:
    specs = [spec for spec in TOPICS if spec.owner == service]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    for spec in specs:
        channel_id = spec.name.replace(".", "_")
        name = spec.payload.__name__
        schemas[name] = spec.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        defs = schemas[name].pop("$defs", {})
        schemas.update(defs)
        messages[name] = {
            "name": name,
            "title": spec.description or name,
            "contentType": "application/json",
            "payload": {"$ref": "#/components/schemas/Envelope"},
            "x-data": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": spec.key}}},
        }
        channels[channel_id] = {
            "address": spec.name,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": {"cleanup.policy": [spec.cleanup_policy]},
                }
            },
            "x-kind": spec.kind,
            "x-dead-letter-topic": spec.dlq,
        }
        operations[f"{'receive' if spec.kind == 'command' else 'send'}_{channel_id}"] = {
            "action": "receive" if spec.kind == "command" else "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"igny8 {service}",
            "version": "1.0.0",
            "description": f"Topics the {service} service owns (generated from igny8.contracts).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


if __name__ == "__main__":
    sys.exit(main("AsyncAPI", OUT, document, "asyncapi"))
