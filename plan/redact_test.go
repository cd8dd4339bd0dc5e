package plan

import "testing"

func TestRedactURL(t *testing.T) {
	t.Parallel()
	const whole = "https://user:pw@api.example.com:8443/v1/tok123?key=abc&b=2#frag"
	p := &Plan{Secrets: []string{whole, "tok123"}}
	for in, want := range map[string]string{
		// The whole URL came from TARGET_URL: the host stays visible.
		whole:                             "https://***@api.example.com:8443/v1/***?b=***&key=***",
		"http://127.0.0.1:8080":           "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/health?x=": "http://127.0.0.1:8080/health?x=***",
		"not a url tok123":                "not a url ***",
		"":                                "",
	} {
		if got := p.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// Redact, by contrast, hides the whole secret URL.
	if got := p.Redact(whole); got != "***" {
		t.Errorf("Redact(whole) = %q", got)
	}
	var nilPlan *Plan
	if got := nilPlan.RedactURL("http://u:p@h/x?a=1"); got != "http://***@h/x?a=***" {
		t.Errorf("nil plan: %q", got)
	}
}
