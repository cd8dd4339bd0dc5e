package plan

import _ "embed"

//go:embed schema.json
var schemaJSON []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of the plan file, for
// editors (`# yaml-language-server: $schema=…`) and `loadgate schema`. The
// schema test keeps it in step with the parser's accepted keys. It is looser
// than Parse in places (e.g. it cannot check that spike_at + spike_duration <
// duration), never stricter.
func JSONSchema() []byte {
	out := make([]byte, len(schemaJSON))
	copy(out, schemaJSON)
	return out
}
