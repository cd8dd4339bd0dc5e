package plan

// Sections of the plan file and the keys each accepts. The parser rejects any
// other key, and the schema test checks plan/schema.json against this table in
// both directions, so the parser, the schema and docs/plan.md cannot drift.
// Section names are the $defs names in schema.json ("plan" is the root).
// The tables are slices, not maps: static data, so no start-up work in
// commands that never read a plan.
var sectionKeys = []keySet{
	{"plan", []string{"name", "target", "targets", "limits", "defaults", "tls", "http", "data", "setup", "endpoints", "profile", "gate", "runner"}},
	{"source", []string{"file", "format", "mode"}},
	{"setup", []string{"name", "request", "headers", "body", "timeout", "expect", "extract"}},
	{"extract", []string{"json", "header"}},
	{"think_time", []string{"min", "max", "mean"}},
	{"targets", []string{"allow"}},
	{"limits", []string{"max_rate", "max_duration", "max_workers"}},
	{"defaults", []string{"timeout", "headers", "max_body_bytes", "expect"}},
	{"tls", []string{"ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name", "min_version"}},
	{"http", []string{"version", "keep_alive", "server_timing"}},
	{"endpoint", []string{"name", "request", "headers", "body", "body_file", "weight", "timeout", "expect"}},
	{"expect", []string{"status"}},
	{"profile", []string{"type", "rate", "vus", "duration", "warmup", "max_in_flight",
		"start_rate", "step_rate", "step_duration", "break_error_rate", "break_p95",
		"multiplier", "spike_at", "spike_duration", "payloads", "stages", "think_time"}},
	{"stage", []string{"name", "duration", "rate", "ramp", "vus"}},
	{"gate", []string{"p50", "p90", "p95", "p99", "max", "throughput", "error_rate", "slo", "endpoints"}},
	{"override", []string{"p50", "p90", "p95", "p99", "max", "throughput", "error_rate", "slo"}},
	{"slo", []string{"p50", "p90", "p95", "p99", "max", "error_rate", "throughput"}},
	{"runner", []string{"exec", "timeout", "import"}},
	{"import", []string{"from", "file", "files", "rename"}},
}

// ProfileTypes lists the profile kinds in documentation order.
var ProfileTypes = []string{ProfileLoad, ProfileStress, ProfileSpike, ProfileEndurance, ProfileScalability, ProfileVolume, ProfileStages}

// profileKeys are the profile keys each type uses; the others are errors, so
// a key that would silently do nothing (multiplier on a load profile) is
// caught.
var profileKeys = []keySet{
	{ProfileLoad, []string{"type", "rate", "vus", "duration", "warmup", "max_in_flight", "think_time"}},
	{ProfileEndurance, []string{"type", "rate", "vus", "duration", "warmup", "max_in_flight", "think_time"}},
	{ProfileStress, []string{"type", "rate", "start_rate", "step_rate", "step_duration", "break_error_rate", "break_p95", "warmup", "max_in_flight"}},
	{ProfileScalability, []string{"type", "rate", "start_rate", "step_rate", "step_duration", "warmup", "max_in_flight"}},
	{ProfileSpike, []string{"type", "rate", "vus", "duration", "multiplier", "spike_at", "spike_duration", "warmup", "max_in_flight", "think_time"}},
	{ProfileVolume, []string{"type", "rate", "vus", "payloads", "step_duration", "warmup", "max_in_flight", "think_time"}},
	{ProfileStages, []string{"type", "stages", "warmup", "max_in_flight", "think_time"}},
}

// ImportFormats are the values runner.import.from accepts.
var ImportFormats = []string{
	"k6-json", "k6-summary", "jmeter-csv", "jmeter-xml", "locust-stats", "locust-history",
	"vegeta-gob", "vegeta-json", "vegeta-csv", "vegeta-report", "gatling",
}

// Metric names that take tolerances (gate, gate.endpoints.*).
var thresholdMetrics = []string{"p50", "p90", "p95", "p99", "max", "throughput", "error_rate"}

// keySet is one row of a key table: a section or profile type and its keys.
type keySet struct {
	name string
	keys []string
}

// keysOf returns the keys table lists for name.
func keysOf(table []keySet, name string) ([]string, bool) {
	for _, k := range table {
		if k.name == name {
			return k.keys, true
		}
	}
	return nil, false
}
