"""The Embed Workflow API (/api/v1): workflows, users, triggers and executions."""
