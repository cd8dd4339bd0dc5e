package ecsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, op string, body any, signed bool) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if signed {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=x")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func runInput(count int) map[string]any {
	return map[string]any{"cluster": "lg", "taskDefinition": "td", "count": count, "startedBy": "run-1",
		"networkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{"subnets": []string{"s"}}},
		"overrides":            map[string]any{"containerOverrides": []any{map[string]any{"name": "loadgate", "command": []string{"worker"}}}}}
}

func TestValidationLikeECS(t *testing.T) {
	t.Parallel()
	s := New(Options{Exec: func(ctx context.Context, _, _ []string) error { <-ctx.Done(); return ctx.Err() }})
	defer s.Close()
	for _, tc := range []struct {
		op     string
		body   any
		signed bool
		want   string
	}{
		{"RunTask", runInput(1), false, "MissingAuthenticationTokenException"},
		{"RunTask", runInput(11), true, "InvalidParameterException"},
		{"RunTask", map[string]any{"taskDefinition": "td", "count": 1}, true, "InvalidParameterException"},
		{"DescribeTasks", map[string]any{"tasks": make([]string, 101)}, true, "InvalidParameterException"},
		{"CreateCluster", map[string]any{}, true, "UnknownOperationException"},
	} {
		code, out := call(t, s, tc.op, tc.body, tc.signed)
		if code != 400 || out["__type"] != tc.want {
			t.Errorf("%s: %d %v, want 400 %s", tc.op, code, out, tc.want)
		}
	}
}

func TestLifecycleAndIdempotency(t *testing.T) {
	t.Parallel()
	stopped := make(chan struct{}, 3)
	s := New(Options{Exec: func(ctx context.Context, _, env []string) error {
		if !strings.Contains(strings.Join(env, " "), "ECS_CONTAINER_METADATA_URI_V4=") {
			return errors.New("no metadata URI")
		}
		<-ctx.Done()
		stopped <- struct{}{}
		return ctx.Err()
	}})
	defer s.Close()
	in := runInput(3)
	in["clientToken"] = "tok-1"
	_, out := call(t, s, "RunTask", in, true)
	_, again := call(t, s, "RunTask", in, true)
	tasks, tasks2 := out["tasks"].([]any), again["tasks"].([]any)
	if len(tasks) != 3 || len(tasks2) != 3 || tasks[0].(map[string]any)["taskArn"] != tasks2[0].(map[string]any)["taskArn"] {
		t.Fatalf("idempotent RunTask: %v / %v", tasks, tasks2)
	}
	arn := tasks[0].(map[string]any)["taskArn"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, d := call(t, s, "DescribeTasks", map[string]any{"cluster": "lg", "tasks": []string{arn}}, true)
		if d["tasks"].([]any)[0].(map[string]any)["lastStatus"] == "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("task never RUNNING")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(s.URL + "/metadata/" + arn[strings.LastIndex(arn, "/")+1:] + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md["TaskARN"] != arn {
		t.Fatalf("metadata %v", md)
	}
	_, l := call(t, s, "ListTasks", map[string]any{"cluster": "lg", "startedBy": "run-1", "maxResults": 2}, true)
	if len(l["taskArns"].([]any)) != 2 || l["nextToken"] == nil {
		t.Fatalf("ListTasks page: %v", l)
	}
	call(t, s, "StopTask", map[string]any{"cluster": "lg", "task": arn, "reason": "test"}, true)
	<-stopped
	for time.Now().Before(deadline) {
		_, d := call(t, s, "DescribeTasks", map[string]any{"cluster": "lg", "tasks": []string{arn}}, true)
		tk := d["tasks"].([]any)[0].(map[string]any)
		if tk["lastStatus"] == "STOPPED" {
			if tk["stopCode"] != "UserInitiated" || tk["stoppedReason"] != "test" {
				t.Fatalf("stopped task %v", tk)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("task never STOPPED")
}

func TestTaskDefinitionSecrets(t *testing.T) {
	t.Parallel()
	const ssm = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadgate/API_TOKEN"
	got := make(chan string, 1)
	s := New(Options{
		TaskDefinitionSecrets: map[string][]Secret{"td": {{Name: "API_TOKEN", ValueFrom: ssm}}, "other": {{Name: "X", ValueFrom: "arn:missing"}}},
		SecretValues:          map[string]string{ssm: "tok-from-ssm"},
		Exec: func(ctx context.Context, _, env []string) error {
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, "API_TOKEN="); ok {
					got <- v
				}
			}
			return nil
		},
	})
	defer s.Close()
	in := runInput(1)
	in["taskDefinition"] = "arn:aws:ecs:eu-west-1:123456789012:task-definition/td:7"
	_, out := call(t, s, "RunTask", in, true)
	select {
	case v := <-got:
		if v != "tok-from-ssm" {
			t.Fatalf("container got API_TOKEN=%q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("container never started with the secret")
	}
	b, _ := json.Marshal(out)
	if bytes.Contains(b, []byte("tok-from-ssm")) {
		t.Errorf("RunTask response holds the secret: %s", b)
	}

	// A secret whose parameter does not exist: the task never starts.
	in = runInput(1)
	in["taskDefinition"] = "other:1"
	_, out = call(t, s, "RunTask", in, true)
	arn := out["tasks"].([]any)[0].(map[string]any)["taskArn"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, d := call(t, s, "DescribeTasks", map[string]any{"cluster": "lg", "tasks": []string{arn}}, true)
		tk := d["tasks"].([]any)[0].(map[string]any)
		if tk["lastStatus"] == "STOPPED" {
			if tk["stopCode"] != "TaskFailedToStart" || !strings.Contains(tk["stoppedReason"].(string), "ResourceInitializationError") {
				t.Fatalf("stopped task %v", tk)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("task with a missing secret never stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTaskDefinitionsConsistencyAndFaults(t *testing.T) {
	t.Parallel()
	s := New(Options{Exec: func(ctx context.Context, _, _ []string) error { <-ctx.Done(); return ctx.Err() },
		TaskDefinitions: map[string]TaskDefinition{"td": {Revision: 2, CPU: "2048", Memory: "4096"}},
		ConsistencyLag:  func(int) time.Duration { return 300 * time.Millisecond },
		Fault: func(op, region string) string {
			if op == "ListTasks" {
				return "ClusterNotFoundException"
			}
			return ""
		}})
	defer s.Close()
	_, td := call(t, s, "DescribeTaskDefinition", map[string]any{"taskDefinition": "td:2"}, true)
	if d, _ := td["taskDefinition"].(map[string]any); d["cpu"] != "2048" || d["memory"] != "4096" || d["revision"] != float64(2) {
		t.Fatalf("DescribeTaskDefinition: %v", td)
	}
	for _, ref := range []string{"td:1", "other"} {
		if code, out := call(t, s, "DescribeTaskDefinition", map[string]any{"taskDefinition": ref}, true); code != 400 || out["__type"] != "ClientException" {
			t.Errorf("%s: %d %v", ref, code, out)
		}
	}
	for _, ref := range []string{"other", "td:1"} {
		in := runInput(1)
		in["taskDefinition"] = ref
		if code, out := call(t, s, "RunTask", in, true); code != 400 || out["__type"] != "InvalidParameterException" {
			t.Errorf("RunTask of %s, which does not exist: %d %v", ref, code, out)
		}
	}
	in := runInput(1)
	in["taskDefinition"] = "td:2"
	_, out := call(t, s, "RunTask", in, true)
	arn := out["tasks"].([]any)[0].(map[string]any)["taskArn"]
	// Not yet known to DescribeTasks and StopTask…
	_, d := call(t, s, "DescribeTasks", map[string]any{"tasks": []any{arn}}, true)
	if f, _ := d["failures"].([]any); len(f) != 1 || f[0].(map[string]any)["reason"] != "MISSING" {
		t.Fatalf("DescribeTasks right after RunTask: %v", d)
	}
	if code, out := call(t, s, "StopTask", map[string]any{"task": arn}, true); code != 400 || !strings.Contains(out["message"].(string), "not found") {
		t.Fatalf("StopTask right after RunTask: %d %v", code, out)
	}
	// …then known.
	time.Sleep(350 * time.Millisecond)
	if _, d := call(t, s, "DescribeTasks", map[string]any{"tasks": []any{arn}}, true); len(d["tasks"].([]any)) != 1 {
		t.Fatalf("DescribeTasks after the lag: %v", d)
	}
	if code, out := call(t, s, "StopTask", map[string]any{"task": arn, "reason": "r"}, true); code != 200 {
		t.Fatalf("StopTask after the lag: %d %v", code, out)
	}
	if code, out := call(t, s, "ListTasks", map[string]any{}, true); code != 400 || out["__type"] != "ClusterNotFoundException" {
		t.Errorf("injected fault: %d %v", code, out)
	}
	if s.Calls()["DescribeTasks:missing"] != 1 {
		t.Errorf("calls %v", s.Calls())
	}
}
