package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// An mTLS plan on a task definition that does not give the container
// LOADGATE_TLS_KEY is refused before any task starts (every task would be
// billed and refuse its share); with the secret it passes.
func TestAWSRunOptionsChecksTheTaskDefinitionGivesTheTLSKey(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	src := `name: mtls
target: https://10.9.8.7
targets: {allow: [10.9.8.7]}
tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
endpoints:
  - {name: a, request: GET /}
profile: {type: load, rate: 1/s, duration: 10s}
`
	const keyArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadgate/LOADGATE_TLS_KEY"
	for _, withSecret := range []bool{false, true} {
		eo := ecsemu.Options{Binary: "/nonexistent"}
		if withSecret {
			eo.TaskDefinitionSecrets = map[string][]ecsemu.Secret{"loadgate-worker": {{Name: distributed.TLSKeyEnv, ValueFrom: keyArn}}}
			eo.SecretValues = map[string]string{keyArn: string(k.ClientKey)}
		}
		emu := ecsemu.New(eo)
		t.Cleanup(emu.Close)
		env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEMU", "AWS_SECRET_ACCESS_KEY": "emu", "AWS_REGION": "eu-west-1",
			"AWS_ENDPOINT_URL_ECS": emu.URL, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true"}
		var stderr strings.Builder
		e := Env{Getenv: func(k string) string { return env[k] }, Stderr: &stderr}
		p, err := plan.Parse([]byte(src), filepath.Join(k.Dir, "plan.yaml"), k.Dir, e.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		o := awsTestOptions(t)
		o.Regions, o.CleanupOlderThan = "eu-west-1:2", 0
		_, _, err = AWSRunOptions(context.Background(), p, o, e)
		var le *Error
		switch {
		case withSecret && err != nil:
			t.Errorf("with the secret: %v", err)
		case !withSecret && (!errors.As(err, &le) || le.Code != ExitUsage || !strings.Contains(err.Error(), `gives container "loadgate" no LOADGATE_TLS_KEY`)):
			t.Errorf("without the secret: err %v, want exit %d naming LOADGATE_TLS_KEY", err, ExitUsage)
		}
		if n := len(emu.RunTaskRequests()); n != 0 {
			t.Errorf("with secret %v: %d RunTask calls before the run started", withSecret, n)
		}
		for _, l := range k.KeyLines() {
			if strings.Contains(stderr.String(), string(l)) || (err != nil && strings.Contains(err.Error(), string(l))) {
				t.Fatal("the output holds the key")
			}
		}
	}
}
