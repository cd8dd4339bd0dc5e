// Package mcpserver is loadgate's Model Context Protocol server (`loadgate
// mcp`): tools to validate plans, start, follow and cancel bounded local runs,
// compare results with baselines and explain verdicts, and read-only access to
// baselines and results, for AI assistants.
//
// Every path a client names is confined to the working directory (Root), and
// every run it starts must pass the plan's targets.allow (non-empty for MCP)
// and limits before any request is sent. Its dependencies (working directory,
// getenv, runner factory, clock) are values, so tests inject them.
package mcpserver
