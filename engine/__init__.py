"""The workflow engine: executions started by commands, durable delay timers, webhooks
delivered once in effect (docs/workflows.md, "The engine")."""
