"""Chat with Claude over server-sent events: the agentic tool loop and its tools.

`session.run_chat` is what the route runs; `loop.ChatLoop` drives Claude's streamed turns and
the tools; `tools` holds the registry (pydantic input models → JSON schemas) and the tools;
`narrator` the throttled progress lines; `prompts` the system prompts.
"""
