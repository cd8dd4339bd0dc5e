package plan

// Sections of the plan file and the keys each accepts. The parser rejects any
// other key, and the schema test checks plan/schema.json against this table in
// both directions, so the parser, the schema and docs/plan.md cannot drift.
// Section names are the $defs names in schema.json ("plan" is the root).
var sectionKeys = map[string][]string{
	"plan":       {"name", "target", "targets", "limits", "defaults", "tls", "http", "data", "setup", "endpoints", "profile", "gate", "runner"},
	"source":     {"file", "format", "mode"},
	"setup":      {"name", "request", "headers", "body", "timeout", "expect", "extract"},
	"extract":    {"json", "header"},
	"think_time": {"min", "max", "mean"},
	"targets":    {"allow"},
	"limits":     {"max_rate", "max_duration", "max_workers"},
	"defaults":   {"timeout", "headers", "max_body_bytes", "expect"},
	"tls":        {"ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name", "min_version"},
	"http":       {"version", "keep_alive", "server_timing"},
	"endpoint":   {"name", "request", "headers", "body", "body_file", "weight", "timeout", "expect"},
	"expect":     {"status"},
	"profile": {"type", "rate", "vus", "duration", "warmup", "max_in_flight",
		"start_rate", "step_rate", "step_duration", "break_error_rate", "break_p95",
		"multiplier", "spike_at", "spike_duration", "payloads", "stages", "think_time"},
	"stage":    {"name", "duration", "rate", "ramp", "vus"},
	"gate":     {"p50", "p90", "p95", "p99", "max", "throughput", "error_rate", "slo", "endpoints"},
	"override": {"p50", "p90", "p95", "p99", "max", "throughput", "error_rate", "slo"},
	"slo":      {"p50", "p90", "p95", "p99", "max", "error_rate", "throughput"},
	"runner":   {"exec", "timeout", "import"},
	"import":   {"from", "file", "files", "rename"},
}

// ProfileTypes lists the profile kinds in documentation order.
var ProfileTypes = []string{ProfileLoad, ProfileStress, ProfileSpike, ProfileEndurance, ProfileScalability, ProfileVolume, ProfileStages}

// profileKeys are the profile keys each type uses; the others are errors, so
// a key that would silently do nothing (multiplier on a load profile) is
// caught.
var profileKeys = map[string][]string{
	ProfileLoad:        {"type", "rate", "vus", "duration", "warmup", "max_in_flight", "think_time"},
	ProfileEndurance:   {"type", "rate", "vus", "duration", "warmup", "max_in_flight", "think_time"},
	ProfileStress:      {"type", "rate", "start_rate", "step_rate", "step_duration", "break_error_rate", "break_p95", "warmup", "max_in_flight"},
	ProfileScalability: {"type", "rate", "start_rate", "step_rate", "step_duration", "warmup", "max_in_flight"},
	ProfileSpike:       {"type", "rate", "vus", "duration", "multiplier", "spike_at", "spike_duration", "warmup", "max_in_flight", "think_time"},
	ProfileVolume:      {"type", "rate", "vus", "payloads", "step_duration", "warmup", "max_in_flight", "think_time"},
	ProfileStages:      {"type", "stages", "warmup", "max_in_flight", "think_time"},
}

// ImportFormats are the values runner.import.from accepts.
var ImportFormats = []string{
	"k6-json", "k6-summary", "jmeter-csv", "jmeter-xml", "locust-stats", "locust-history",
	"vegeta-gob", "vegeta-json", "vegeta-csv", "vegeta-report", "gatling",
}

// Metric names that take tolerances (gate, gate.endpoints.*).
var thresholdMetrics = []string{"p50", "p90", "p95", "p99", "max", "throughput", "error_rate"}
