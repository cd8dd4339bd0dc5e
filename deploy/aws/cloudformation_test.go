// Package deploy holds the CloudFormation template for AWS runs; this test
// keeps its IAM scopes as narrow as docs/aws.md promises.
package deploy

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// toValue turns a YAML node into plain values; CloudFormation short-form tags
// (!Ref, !Sub, !GetAtt, !If, !Equals) become {"Ref": …}, {"Fn::Sub": …} maps.
func toValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		return toValue(n.Content[0])
	case yaml.AliasNode:
		return toValue(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toValue(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		var s []any
		for _, c := range n.Content {
			s = append(s, toValue(c))
		}
		v = s
	default:
		v = n.Value
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn := strings.TrimPrefix(n.Tag, "!")
		if fn != "Ref" {
			fn = "Fn::" + fn
		}
		return map[string]any{fn: v}
	}
	return v
}

func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("cloudformation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return toValue(&doc).(map[string]any)
}

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	if s, ok := v.([]any); ok {
		return s
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// str renders a value (intrinsics included) for substring checks.
func str(v any) string { return fmt.Sprint(v) }

type statement struct {
	Sid       string
	Actions   []string
	Resources []string
	Condition any
}

func statements(t *testing.T, tpl map[string]any, role string) []statement {
	t.Helper()
	var out []statement
	for _, pol := range list(get(tpl, "Resources", role, "Properties", "Policies")) {
		for _, s := range list(get(pol, "PolicyDocument", "Statement")) {
			if get(s, "Effect") != "Allow" {
				t.Errorf("%s: non-Allow statement %v", role, s)
			}
			st := statement{Sid: str(get(s, "Sid")), Condition: get(s, "Condition")}
			for _, a := range list(get(s, "Action")) {
				st.Actions = append(st.Actions, str(a))
			}
			for _, r := range list(get(s, "Resource")) {
				st.Resources = append(st.Resources, str(r))
			}
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no policy statements", role)
	}
	return out
}

func TestCIRoleIsScoped(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	var actions []string
	for _, s := range statements(t, tpl, "CIRole") {
		actions = append(actions, s.Actions...)
		for _, r := range s.Resources {
			if r == "*" || strings.HasSuffix(r, ":*\"") {
				t.Errorf("%s: unscoped resource %s", s.Sid, r)
			}
		}
		for _, a := range s.Actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
			switch {
			case a == "ecs:RunTask":
				if !strings.Contains(s.Resources[0], "task-definition/loadgate-worker:") || !strings.Contains(str(s.Condition), "ecs:cluster") {
					t.Errorf("RunTask not limited to the worker task definition in the cluster: %v %v", s.Resources, s.Condition)
				}
			case a == "ecs:DescribeTasks" || a == "ecs:StopTask" || a == "ecs:TagResource":
				if !strings.Contains(s.Resources[0], "task/loadgate/") {
					t.Errorf("%s not limited to the cluster's tasks: %v", a, s.Resources)
				}
			case a == "iam:PassRole":
				for _, r := range s.Resources {
					if !strings.Contains(r, "TaskRole") && !strings.Contains(r, "ExecutionRole") {
						t.Errorf("PassRole on %s", r)
					}
				}
				if !strings.Contains(str(s.Condition), "ecs-tasks.amazonaws.com") {
					t.Errorf("PassRole without iam:PassedToService")
				}
			case strings.HasPrefix(a, "s3:") && a != "s3:ListBucket":
				for _, r := range s.Resources {
					if !strings.Contains(r, "${BucketName}/${Prefix}/*") {
						t.Errorf("%s on %s, want the bucket prefix only", a, r)
					}
				}
			case a == "s3:ListBucket":
				if !strings.Contains(str(s.Condition), "s3:prefix") {
					t.Errorf("ListBucket without a prefix condition")
				}
			}
		}
	}
	sort.Strings(actions)
	want := []string{"ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask", "ecs:StopTask", "ecs:TagResource", "iam:PassRole",
		"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}
	if !slices.Equal(actions, want) {
		t.Errorf("CI role actions\n got %v\nwant %v", actions, want)
	}
	trust := str(get(tpl, "Resources", "CIRole", "Properties", "AssumeRolePolicyDocument"))
	for _, w := range []string{"sts:AssumeRoleWithWebIdentity", "token.actions.githubusercontent.com:sub", "repo:${GitHubRepository}:*", "sts.amazonaws.com"} {
		if !strings.Contains(trust, w) {
			t.Errorf("trust policy lacks %s: %s", w, trust)
		}
	}
}

func TestTaskRoleWritesOnlyItsPrefix(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, s := range statements(t, tpl, "TaskRole") {
		for _, a := range s.Actions {
			switch a {
			case "s3:GetObject", "s3:PutObject":
				if len(s.Resources) != 1 || !strings.Contains(s.Resources[0], "${BucketName}/${Prefix}/*") {
					t.Errorf("%s on %v", a, s.Resources)
				}
			case "s3:ListBucket":
				if len(s.Resources) != 1 || strings.Contains(s.Resources[0], "/") && !strings.Contains(s.Resources[0], ":::") {
					t.Errorf("ListBucket on %v", s.Resources)
				}
			default:
				t.Errorf("task role may %s", a)
			}
		}
	}
}

func TestInfrastructure(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	rules := list(get(tpl, "Resources", "Bucket", "Properties", "LifecycleConfiguration", "Rules"))
	if len(rules) == 0 || get(rules[0], "ExpirationInDays") == nil || get(rules[0], "Status") != "Enabled" {
		t.Errorf("bucket lifecycle rules %v", rules)
	}
	td := get(tpl, "Resources", "TaskDefinition", "Properties")
	if get(td, "NetworkMode") != "awsvpc" || !strings.Contains(str(get(td, "RequiresCompatibilities")), "FARGATE") ||
		get(td, "Family") != "loadgate-worker" || !strings.Contains(str(get(td, "TaskRoleArn")), "TaskRole") {
		t.Errorf("task definition %v", td)
	}
	c := list(get(td, "ContainerDefinitions"))
	if len(c) != 1 || get(c[0], "Name") != "loadgate" || get(c[0], "LogConfiguration", "LogDriver") != "awslogs" {
		t.Errorf("container %v", c)
	}
	if get(tpl, "Resources", "Cluster", "Properties", "ClusterName") != "loadgate" {
		t.Errorf("cluster name (the ARNs in the CI policy assume \"loadgate\")")
	}
	if get(tpl, "Resources", "LogGroup", "Type") != "AWS::Logs::LogGroup" {
		t.Errorf("no log group")
	}
}

// The plan's secrets reach workers only through the task definition: the
// execution role may read SSM parameters and Secrets Manager secrets under
// the prefix and nothing else of either service; the CI role reads neither.
func TestWorkerSecretsScopedToPrefix(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	var found []string
	for _, s := range statements(t, tpl, "ExecutionRole") {
		for _, a := range s.Actions {
			if !strings.HasPrefix(a, "ssm:") && !strings.HasPrefix(a, "secretsmanager:") && !strings.HasPrefix(a, "kms:") {
				continue
			}
			found = append(found, a)
			if len(s.Resources) != 1 {
				t.Errorf("%s on %v", a, s.Resources)
				continue
			}
			r := s.Resources[0]
			switch a {
			case "ssm:GetParameters":
				if !strings.Contains(r, ":parameter/${SecretsPrefix}/*") {
					t.Errorf("%s on %s, want the parameter prefix only", a, r)
				}
			case "secretsmanager:GetSecretValue":
				if !strings.Contains(r, ":secret:${SecretsPrefix}/*") {
					t.Errorf("%s on %s, want the secret prefix only", a, r)
				}
			default:
				t.Errorf("execution role may %s", a)
			}
		}
	}
	sort.Strings(found)
	if want := []string{"secretsmanager:GetSecretValue", "ssm:GetParameters"}; !slices.Equal(found, want) {
		t.Errorf("secret actions %v, want %v", found, want)
	}
	for _, s := range statements(t, tpl, "CIRole") {
		for _, a := range s.Actions {
			if strings.HasPrefix(a, "ssm:") || strings.HasPrefix(a, "secretsmanager:") {
				t.Errorf("CI role may %s", a)
			}
		}
	}
	c := list(get(tpl, "Resources", "TaskDefinition", "Properties", "ContainerDefinitions"))[0]
	sec := str(get(c, "Secrets"))
	for _, w := range []string{"HasWorkerSecret", "WorkerSecret", "parameter/${SecretsPrefix}/${WorkerSecret}", "AWS::NoValue"} {
		if !strings.Contains(sec, w) {
			t.Errorf("container Secrets lack %s: %s", w, sec)
		}
	}
	if get(c, "Environment") != nil {
		t.Errorf("the container definition sets plain environment variables: secrets belong in Secrets")
	}
}
