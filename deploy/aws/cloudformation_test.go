// Package deploy holds the CloudFormation template for AWS runs; this test
// keeps its IAM scopes as narrow as docs/aws.md promises.
package deploy

import (
	"fmt"
	"os"
	"regexp"
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
			// DescribeTaskDefinition has no resource-level permissions.
			if (r == "*" || strings.HasSuffix(r, ":*\"")) && !slices.Equal(s.Actions, []string{"ecs:DescribeTaskDefinition"}) {
				t.Errorf("%s: unscoped resource %s", s.Sid, r)
			}
		}
		for _, a := range s.Actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
			switch {
			case a == "ecs:RunTask":
				if !strings.Contains(s.Resources[0], "task-definition/${AWS::StackName}-worker:") || !strings.Contains(str(s.Condition), "ecs:cluster") {
					t.Errorf("RunTask not limited to the worker task definition in the cluster: %v %v", s.Resources, s.Condition)
				}
			case a == "ecs:DescribeTasks" || a == "ecs:StopTask" || a == "ecs:TagResource":
				if !strings.Contains(s.Resources[0], "task/${AWS::StackName}/") {
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
	want := []string{"ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask", "ecs:StopTask", "ecs:TagResource", "iam:PassRole",
		"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}
	if !slices.Equal(actions, want) {
		t.Errorf("CI role actions\n got %v\nwant %v", actions, want)
	}
}

// The OIDC trust admits one branch or one environment of one repository,
// matched exactly: not every branch, tag and pull request of the repository.
func TestOIDCTrustIsPinned(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	stmts := list(get(tpl, "Resources", "CIRole", "Properties", "AssumeRolePolicyDocument", "Statement"))
	if len(stmts) != 1 || get(stmts[0], "Action") != "sts:AssumeRoleWithWebIdentity" {
		t.Fatalf("trust statements %v", stmts)
	}
	cond := get(stmts[0], "Condition")
	if m, _ := cond.(map[string]any); len(m) != 1 || m["StringEquals"] == nil {
		t.Fatalf("trust conditions %v: want StringEquals only (StringLike admits wildcards)", cond)
	}
	eq := get(cond, "StringEquals")
	if get(eq, "token.actions.githubusercontent.com:aud") != "sts.amazonaws.com" {
		t.Errorf("audience %v", get(eq, "token.actions.githubusercontent.com:aud"))
	}
	sub := str(get(eq, "token.actions.githubusercontent.com:sub"))
	for _, w := range []string{"PinEnvironment", "repo:${GitHubRepository}:environment:${GitHubEnvironment}", "repo:${GitHubRepository}:ref:refs/heads/${GitHubBranch}"} {
		if !strings.Contains(sub, w) {
			t.Errorf("sub condition lacks %s: %s", w, sub)
		}
	}
	if strings.Contains(sub, "*") {
		t.Errorf("sub condition has a wildcard: %s", sub)
	}
	if d := get(tpl, "Resources", "CIRole", "Properties", "MaxSessionDuration"); d != "3600" {
		t.Errorf("MaxSessionDuration %v, want 3600 (1 h)", d)
	}
	params := get(tpl, "Parameters")
	for name, valid := range map[string][]string{
		"GitHubRepository":  {"acme/checkout-api", "a.b/c_d-e"},
		"GitHubBranch":      {"main", "release/1.2"},
		"GitHubEnvironment": {"", "loadtest"},
	} {
		pat := str(get(params, name, "AllowedPattern"))
		re, err := regexp.Compile(pat)
		if err != nil || pat == "" {
			t.Errorf("%s: AllowedPattern %q: %v", name, pat, err)
			continue
		}
		for _, v := range valid {
			if !re.MatchString(v) {
				t.Errorf("%s: %q refused by %s", name, v, pat)
			}
		}
		for _, bad := range []string{"acme/*", "*", "acme/x:*", "acme/x:ref:refs/heads/main"} {
			if re.MatchString(bad) {
				t.Errorf("%s: %q accepted by %s", name, bad, pat)
			}
		}
	}
	if get(params, "GitHubRepository", "Default") != nil {
		t.Errorf("GitHubRepository has a default")
	}
	// One provider per account: the default uses the account's existing one,
	// by its fixed ARN; "create" is for the first stack of an account only.
	if get(params, "GitHubOIDCProvider", "Default") != "existing" || !strings.Contains(str(get(params, "GitHubOIDCProvider", "AllowedValues")), "create") {
		t.Errorf("GitHubOIDCProvider parameter %v", get(params, "GitHubOIDCProvider"))
	}
	principal := str(get(stmts[0], "Principal", "Federated"))
	if !strings.Contains(principal, "MakeOIDCProvider") || !strings.Contains(principal, ":oidc-provider/token.actions.githubusercontent.com") {
		t.Errorf("federated principal %s", principal)
	}
	if get(tpl, "Resources", "GitHubOIDCProviderResource", "Condition") != "MakeOIDCProvider" {
		t.Errorf("the OIDC provider is created unconditionally")
	}
}

func TestBucketPolicyDeniesInsecureTransport(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	bp := get(tpl, "Resources", "BucketPolicy")
	if get(bp, "Type") != "AWS::S3::BucketPolicy" || get(bp, "Condition") != "MakeBucket" || str(get(bp, "Properties", "Bucket")) != "map[Ref:Bucket]" {
		t.Fatalf("bucket policy %v", bp)
	}
	var found bool
	for _, s := range list(get(bp, "Properties", "PolicyDocument", "Statement")) {
		if get(s, "Effect") != "Deny" || get(s, "Principal") != "*" || get(s, "Action") != "s3:*" {
			continue
		}
		res := str(get(s, "Resource"))
		found = get(s, "Condition", "Bool", "aws:SecureTransport") == "false" &&
			strings.Contains(res, "s3:::${BucketName}]") && strings.Contains(res, "s3:::${BucketName}/*")
	}
	if !found {
		t.Errorf("no Deny of non-TLS requests on the bucket and its objects")
	}
}

// Names derive from the stack, so two stacks coexist in one region.
func TestNamesDeriveFromTheStack(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, path := range [][]string{
		{"Resources", "Cluster", "Properties", "ClusterName"},
		{"Resources", "LogGroup", "Properties", "LogGroupName"},
		{"Resources", "TaskDefinition", "Properties", "Family"},
		{"Outputs", "TaskDefinition", "Value"},
	} {
		if v := str(get(tpl, path...)); !strings.Contains(v, "AWS::StackName") {
			t.Errorf("%s = %s, want a name derived from the stack", strings.Join(path, "."), v)
		}
	}
	for _, r := range get(tpl, "Resources").(map[string]any) {
		props, _ := get(r, "Properties").(map[string]any)
		for k, v := range props {
			if strings.HasSuffix(k, "Name") && k != "BucketName" && !strings.Contains(str(v), "AWS::StackName") && !strings.Contains(str(v), "Ref") {
				t.Errorf("fixed name %s: %v", k, v)
			}
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
				if !strings.Contains(str(get(s.Condition, "StringLike", "s3:prefix")), "${Prefix}/*") {
					t.Errorf("task role's ListBucket without a prefix condition: %v", s.Condition)
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
		!strings.Contains(str(get(td, "Family")), "${AWS::StackName}-worker") || !strings.Contains(str(get(td, "TaskRoleArn")), "TaskRole") {
		t.Errorf("task definition %v", td)
	}
	c := list(get(td, "ContainerDefinitions"))
	if len(c) != 1 || get(c[0], "Name") != "loadgate" || get(c[0], "LogConfiguration", "LogDriver") != "awslogs" {
		t.Errorf("container %v", c)
	}
	if str(get(tpl, "Resources", "Cluster", "Properties", "ClusterName")) != "map[Ref:AWS::StackName]" {
		t.Errorf("cluster name (the ARNs in the CI policy assume the stack name)")
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
	for _, w := range []string{"HasWorkerSecret", "WorkerSecret", "parameter/${SecretsPrefix}/${WorkerSecret}", "AWS::NoValue",
		"HasWorkerTLSKey", "Name:LOADGATE_TLS_KEY", "parameter/${SecretsPrefix}/LOADGATE_TLS_KEY"} {
		if !strings.Contains(sec, w) {
			t.Errorf("container Secrets lack %s: %s", w, sec)
		}
	}
	if get(c, "Environment") != nil {
		t.Errorf("the container definition sets plain environment variables: secrets belong in Secrets")
	}
}
