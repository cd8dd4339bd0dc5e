//go:build linux

package main

// The action as the runner runs it: action.yml is a composite action whose one
// step runs scripts/action.sh with bash, which runs the published image with
// `docker run --network host` (or the released binary). These tests parse
// action.yml, give its step the environment the runner gives a composite step
// (GITHUB_* file-command files under RUNNER_TEMP, the event payload, the
// action unpacked under _actions/OWNER/REPO/REF, inputs only as the step's
// env: block passes them), run it with bash, and put a fake `docker` first on
// PATH. The fake records the exact command line and then does what Docker
// would with it, with the static binary as the image: a fresh mount namespace
// (`unshare -r -m`) holding only the image's files plus the -v mounts, chroot,
// --workdir, only the -e variables, and a network namespace of its own unless
// the command says --network host. The service under test listens on
// 127.0.0.1 only, so a run that is not on the runner's network cannot reach it.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/loadgate/loadgate/internal/fakegithub"
	"github.com/loadgate/loadgate/internal/target"
)

const (
	compositeRoot  = "../.."
	compositeToken = "ghs_compositetesttoken"
	compositeSHA   = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	compositeRef   = "v1.2.3"
	compositeImage = "ghcr.io/loadgate/loadgate:" + compositeRef
)

// actionMeta is the part of action.yml the runner reads for a composite action.
type actionMeta struct {
	Inputs map[string]struct {
		Default *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func readActionMeta(t *testing.T) actionMeta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(compositeRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var m actionMeta
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return m
}

// inputEnvName is the variable the entrypoint reads for an input: INPUT_ and
// the upper-cased name, as loadgate's actionsenv (and a Docker action) reads
// it; the entrypoint's own inputs are LOADGATE_*.
func inputEnvName(input string) string {
	switch input {
	case "version", "image", "runtime":
		return "LOADGATE_" + strings.ToUpper(input)
	}
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(input, " ", "_"))
}

// TestActionCompositePassesEveryInput: a composite action's steps get no
// INPUT_* variables from the runner, so the step must pass each input itself,
// and each output must come from the step's outputs.
func TestActionCompositePassesEveryInput(t *testing.T) {
	t.Parallel()
	m := readActionMeta(t)
	if m.Runs.Using != "composite" || len(m.Runs.Steps) != 1 {
		t.Fatalf("runs: using %q with %d steps, want one composite step", m.Runs.Using, len(m.Runs.Steps))
	}
	st := m.Runs.Steps[0]
	if st.ID != "run" || st.Shell != "bash" {
		t.Errorf("step id %q shell %q, want id run, shell bash (bash exists on every hosted runner, Windows included)", st.ID, st.Shell)
	}
	if strings.Contains(st.Run, "${{") {
		t.Errorf("run: %q expands expressions into the script (injection); pass values through env", st.Run)
	}
	for name := range m.Inputs {
		want := "${{ inputs." + name + " }}"
		if got := st.Env[inputEnvName(name)]; got != want {
			t.Errorf("input %s: env %s = %q, want %q", name, inputEnvName(name), got, want)
		}
	}
	if len(st.Env) != len(m.Inputs) {
		t.Errorf("step env has %d entries for %d inputs", len(st.Env), len(m.Inputs))
	}
	for name, o := range m.Outputs {
		if want := "${{ steps.run.outputs." + name + " }}"; o.Value != want {
			t.Errorf("output %s value %q, want %q", name, o.Value, want)
		}
	}
}

// stepEnv evaluates the step's env: block for the given with: values, the
// way the runner does for the expressions action.yml uses.
func stepEnv(t *testing.T, m actionMeta, with map[string]string, githubToken string) map[string]string {
	t.Helper()
	expr := regexp.MustCompile(`^\$\{\{ inputs\.([a-z0-9-]+) \}\}$`)
	out := map[string]string{}
	for k, v := range m.Runs.Steps[0].Env {
		sub := expr.FindStringSubmatch(v)
		if sub == nil {
			t.Fatalf("env %s: %q is not an input", k, v)
		}
		val, ok := with[sub[1]]
		if !ok {
			if d := m.Inputs[sub[1]].Default; d != nil {
				val = *d
			}
		}
		if val == "${{ github.token }}" {
			val = githubToken
		}
		out[k] = val
	}
	return out
}

// buildStaticBinary builds loadgate as the release does (CGO off, stripped),
// once per test process: each link of the 39 MB binary costs seconds of CPU.
// Callers copy it (installFakeDocker, releaseServer) and never change it.
func buildStaticBinary(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		staticDir, staticErr = os.MkdirTemp("", "loadgate-static-")
		if staticErr != nil {
			return
		}
		staticPath = filepath.Join(staticDir, "loadgate")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/loadgate/loadgate/internal/version.Version="+compositeRef, "-o", staticPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

// The static binary, built once into staticDir (removed by TestMain).
var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// runnerLayout is a runner's directories for one job, as actions/runner lays
// them out: _work/_temp (RUNNER_TEMP) holding _runner_file_commands and
// _github_workflow/event.json, _work/_actions/OWNER/REPO/REF holding the
// action, _work/REPO/REPO the workspace.
type runnerLayout struct {
	work, temp, ws, actionPath string
	files                      map[string]string // GITHUB_OUTPUT → path, ...
	env                        map[string]string
}

func newRunnerLayout(t *testing.T, ref, apiURL string) *runnerLayout {
	t.Helper()
	base := t.TempDir()
	r := &runnerLayout{
		work: filepath.Join(base, "_work"),
	}
	r.temp = filepath.Join(r.work, "_temp")
	r.ws = filepath.Join(r.work, "Hello-World", "Hello-World")
	if ref == "" {
		r.actionPath = r.ws // uses: ./
	} else {
		r.actionPath = filepath.Join(r.work, "_actions", "loadgate", "loadgate", ref)
	}
	fc := filepath.Join(r.temp, "_runner_file_commands")
	wf := filepath.Join(r.temp, "_github_workflow")
	for _, d := range []string{fc, wf, r.ws, filepath.Join(r.actionPath, "scripts")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The action's files: what the runner unpacks from the action's tarball.
	script, err := os.ReadFile(filepath.Join(compositeRoot, "scripts", "action.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.actionPath, "scripts", "action.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	guid := "6f1c0ab2-5d7e-4b43-9a51-0d0f3c4e8b21"
	r.files = map[string]string{}
	for name, prefix := range map[string]string{
		"GITHUB_OUTPUT": "set_output_", "GITHUB_STEP_SUMMARY": "step_summary_", "GITHUB_ENV": "set_env_",
		"GITHUB_PATH": "add_path_", "GITHUB_STATE": "save_state_",
	} {
		p := filepath.Join(fc, prefix+guid)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r.files[name] = p
	}
	event, err := os.ReadFile(filepath.Join(compositeRoot, "testdata", "github", "events", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.files["GITHUB_EVENT_PATH"] = filepath.Join(wf, "event.json")
	if err := os.WriteFile(r.files["GITHUB_EVENT_PATH"], event, 0o644); err != nil {
		t.Fatal(err)
	}
	r.env = map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true",
		"GITHUB_WORKSPACE": r.ws, "GITHUB_ACTION_PATH": r.actionPath, "GITHUB_ACTION": "__loadgate_loadgate",
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "Codertocat/Hello-World",
		"GITHUB_SHA": compositeSHA, "GITHUB_RUN_ID": "4242", "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_API_URL": apiURL, "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_TEMP": r.temp,
		"HOME": filepath.Join(base, "home"), "LANG": "C.UTF-8",
	}
	for k, v := range r.files {
		r.env[k] = v
	}
	return r
}

// run runs the composite step as the runner does: the run: text in a script
// file under RUNNER_TEMP, `bash --noprofile --norc -eo pipefail FILE`, from the
// workspace, with the job's and the step's environment.
func (r *runnerLayout) run(t *testing.T, m actionMeta, stepEnv map[string]string, path string) (int, string, string) {
	t.Helper()
	script := filepath.Join(r.temp, "3b9a7c1e-step.sh")
	if err := os.WriteFile(script, []byte(m.Runs.Steps[0].Run), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = r.ws
	cmd.Env = []string{"PATH=" + path}
	for k, v := range r.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range stepEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("bash: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// readOutputs parses a GITHUB_OUTPUT file (NAME<<DELIM ... DELIM or NAME=VALUE).
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			out[name] = strings.Join(val, "\n")
		} else if name, val, ok := strings.Cut(l, "="); ok {
			out[name] = val
		}
	}
	return out
}

// dockerCall is one invocation of the fake docker.
type dockerCall struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

func readDockerCalls(t *testing.T, dir string) []dockerCall {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "call-*.json"))
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(names[i]), "call-"), ".json"))
		b, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(names[j]), "call-"), ".json"))
		return a < b
	})
	var calls []dockerCall
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var c dockerCall
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	return calls
}

// installFakeDocker makes a `docker` that is this test binary (hard-linked,
// so bash executes a Go program directly, as it would the docker CLI: a shell
// wrapper could drop variables such as INPUT_GITHUB-TOKEN that are no shell
// names) with its settings beside it, and an image root holding what the
// image holds: the static binary as /loadgate, /tmp, the CA bundle (plus the
// fake GitHub's certificate).
func installFakeDocker(t *testing.T, bin string, extraCA []byte) (binDir, logDir string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	binDir, logDir = filepath.Join(base, "bin"), filepath.Join(base, "calls")
	img := filepath.Join(base, "image")
	for _, d := range []string{binDir, logDir, filepath.Join(img, "etc", "ssl", "certs"), filepath.Join(img, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(img, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(bin, filepath.Join(img, "loadgate")); err != nil {
		t.Fatal(err)
	}
	bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err := os.WriteFile(filepath.Join(img, "etc", "ssl", "certs", "ca-certificates.crt"), append(bundle, extraCA...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(self, filepath.Join(binDir, "docker")); err != nil {
		if err := copyFile(self, filepath.Join(binDir, "docker")); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := json.Marshal(fakeDockerConfig{LogDir: logDir, ImageRoot: img})
	if err := os.WriteFile(filepath.Join(binDir, "fake-docker.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return binDir, logDir
}

// copyFile copies an executable with a child process: had this process held
// dst open for writing, a parallel test forking at that moment could carry the
// descriptor into its child and make exec of dst fail with "text file busy"
// (ETXTBSY), as it once did in runners/exec beside two CPU burners.
func copyFile(src, dst string) error {
	if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s %s: %v: %s", src, dst, err, out)
	}
	return os.Chmod(dst, 0o755)
}

type fakeDockerConfig struct {
	LogDir    string `json:"log_dir"`
	ImageRoot string `json:"image_root"`
}

// init turns this test binary into the fake docker when it runs under that
// name (before the testing package parses any flag).
func init() {
	if len(os.Args) > 1 && os.Args[1] == containerArg {
		os.Exit(fakeContainer(os.Args[2:]))
	}
	exe, err := os.Executable()
	if err != nil || filepath.Base(exe) != "docker" {
		return
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "fake-docker.json"))
	if err != nil {
		return
	}
	var cfg fakeDockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fake docker:", err)
		os.Exit(125)
	}
	os.Exit(fakeDocker(cfg.LogDir, cfg.ImageRoot, os.Args[1:], os.Environ()))
}

func needUnshare(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not available")
	}
	if out, err := exec.Command("unshare", "-r", "-m", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare -r -m -n not permitted here: %v %s", err, out)
	}
}

// fakeDocker does what docker would with args, env being the docker CLI's
// environment.
func fakeDocker(logDir, imageRoot string, args, env []string) int {
	lookup := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		lookup[k] = v
	}
	n, _ := filepath.Glob(filepath.Join(logDir, "call-*.json"))
	rec, _ := json.Marshal(dockerCall{Args: args, Env: env})
	if err := os.WriteFile(filepath.Join(logDir, fmt.Sprintf("call-%d.json", len(n))), rec, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fake docker:", err)
		return 125
	}
	if len(args) == 0 {
		return 125
	}
	switch args[0] {
	case "version", "pull":
		return 0
	case "image":
		return 1 // nothing cached
	case "run":
	default:
		fmt.Fprintf(os.Stderr, "fake docker: unknown command %q\n", args[0])
		return 125
	}
	var (
		network, workdir string
		mounts           [][2]string
		names            []string
		i                int
	)
	rest := args[1:]
	for i = 0; i < len(rest) && strings.HasPrefix(rest[i], "-"); i++ {
		flag := rest[i]
		val := func() string { i++; return rest[i] }
		switch flag {
		case "--rm":
		case "--network":
			network = val()
		case "--user":
			val() // uid:gid; the user namespace maps this process to it
		case "--workdir", "-w":
			workdir = val()
		case "-v", "--volume":
			src, dst, _ := strings.Cut(val(), ":")
			mounts = append(mounts, [2]string{src, dst})
		case "-e", "--env":
			names = append(names, val())
		default:
			fmt.Fprintf(os.Stderr, "fake docker: unsupported flag %q\n", flag)
			return 125
		}
	}
	if len(rest)-i < 1 {
		fmt.Fprintln(os.Stderr, "fake docker: no image")
		return 125
	}
	cmdArgs := rest[i+1:] // after the image
	// The container's environment: the image's ENV, then each -e NAME with
	// the value the docker CLI has (unset names are left out, as docker does).
	cenv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=/tmp"}
	for _, name := range names {
		if k, v, ok := strings.Cut(name, "="); ok {
			cenv = append(cenv, k+"="+v)
		} else if v, ok := lookup[name]; ok {
			cenv = append(cenv, name+"="+v)
		}
	}
	for _, m := range mounts {
		if err := os.MkdirAll(filepath.Join(imageRoot, m[1]), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "fake docker:", err)
			return 125
		}
	}
	// The container's process: this binary again, in new namespaces, doing
	// the mounts and the chroot in Go and exec'ing /loadgate with exactly
	// cenv (a shell there would drop names such as INPUT_GITHUB-TOKEN).
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake docker:", err)
		return 125
	}
	ns := []string{"-r", "-m"}
	if network != "host" {
		ns = append(ns, "-n") // a network of its own: no route to the runner's 127.0.0.1
	}
	cargs := append(ns, self, containerArg, imageRoot, workdir, network, strconv.Itoa(len(mounts)))
	for _, m := range mounts {
		cargs = append(cargs, m[0], m[1])
	}
	cargs = append(append(cargs, "--", "/loadgate"), cmdArgs...)
	cmd := exec.Command("unshare", cargs...)
	cmd.Env = cenv
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "fake docker:", err)
		return 125
	}
	return 0
}

// containerArg marks the fake container's process (see fakeContainer).
const containerArg = "__loadgate_fake_container"

// fakeContainer runs inside `unshare -r -m [-n]`: args are ROOT WORKDIR
// NETWORK N (SRC DST)×N -- COMMAND...; it bind-mounts each SRC at ROOT/DST,
// brings up the loopback of a network of its own (as Docker's is),
// chroots to ROOT, changes to WORKDIR and execs COMMAND with its environment
// unchanged.
func fakeContainer(args []string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "fake container:", err)
		return 125
	}
	if len(args) < 4 {
		return fail(errors.New("short arguments"))
	}
	root, workdir, network := args[0], args[1], args[2]
	n, err := strconv.Atoi(args[3])
	if err != nil || len(args) < 4+2*n+2 || args[4+2*n] != "--" {
		return fail(fmt.Errorf("bad arguments %q", args))
	}
	if network != "host" {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fail(fmt.Errorf("ip link set lo up: %v %s", err, out))
		}
	}
	for i := 0; i < n; i++ {
		src, dst := args[4+2*i], filepath.Join(root, args[5+2*i])
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fail(fmt.Errorf("mount %s: %w", src, err))
		}
	}
	if err := syscall.Chroot(root); err != nil {
		return fail(err)
	}
	if err := os.Chdir(workdir); err != nil {
		return fail(err)
	}
	command := args[4+2*n+1:]
	return fail(syscall.Exec(command[0], command, os.Environ()))
}

// compositePlan gates the demo shop on an absolute SLO loose enough for a busy
// machine; the target comes from the step's environment.
const compositePlan = `name: shop
target: ${TARGET_URL}
endpoints:
  - name: list-products
    request: GET /products
  - name: create-order
    request: POST /orders
    body: '{"sku":"A1"}'
profile:
  type: load
  rate: 30/s
  duration: 3s
  warmup: 1s
gate:
  slo: { p95: 2s }
`

// loopbackDemo serves the demo shop on 127.0.0.1 only.
func loopbackDemo(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(target.NewDemo())
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("demo at %s, want 127.0.0.1", srv.URL)
	}
	return srv.URL
}

func writePlan(t *testing.T, ws string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(ws, "perf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "perf", "plan.yaml"), []byte(compositePlan), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkVerdict asserts that the run reached a verdict and reported it
// through the file commands: outputs, job summary.
func checkVerdict(t *testing.T, r *runnerLayout, code int, stdout, stderr string) map[string]string {
	t.Helper()
	out := readOutputs(t, r.files["GITHUB_OUTPUT"])
	want := map[int]string{0: "pass", 4: "invalid"}[code] // 4: a machine too busy to hold the schedule
	if want == "" || out["verdict"] != want || out["exit-code"] != strconv.Itoa(code) {
		t.Fatalf("exit %d, outputs %v\nstdout:\n%s\nstderr:\n%s", code, out, stdout, stderr)
	}
	if out["results-path"] != "loadgate-results" || out["report-path"] != "loadgate-results/report.md" {
		t.Errorf("paths in outputs %q %q must be relative to the runner's workspace", out["results-path"], out["report-path"])
	}
	if _, err := os.Stat(filepath.Join(r.ws, "loadgate-results", "results.json")); err != nil {
		t.Errorf("results not in the workspace: %v", err)
	}
	summary, err := os.ReadFile(r.files["GITHUB_STEP_SUMMARY"])
	if err != nil || !strings.Contains(string(summary), "shop") || !strings.Contains(string(summary), "list-products") {
		t.Errorf("job summary: %v\n%s", err, summary)
	}
	return out
}

// TestActionCompositeDockerOnRunnerNetwork runs action.yml's step with bash
// and the fake docker against a service on 127.0.0.1 only, and checks the
// docker command line the entrypoint built.
func TestActionCompositeDockerOnRunnerNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs load for ~4 s")
	}
	needUnshare(t)
	bin := buildStaticBinary(t)
	gh := fakegithub.NewTLS(t, fakegithub.SpecPath, compositeToken)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gh.Certificate().Raw})
	binDir, logDir := installFakeDocker(t, bin, ca)

	m := readActionMeta(t)
	r := newRunnerLayout(t, compositeRef, gh.URL)
	writePlan(t, r.ws)
	// The user's step: `uses: loadgate/loadgate@v1.2.3` with `with:` and an
	// `env:` the plan expands (the service started in an earlier step).
	env := stepEnv(t, m, map[string]string{"plan": "perf/plan.yaml", "extra-args": "-q"}, compositeToken)
	env["TARGET_URL"] = loopbackDemo(t)
	env["MULTI_LINE"] = "a\nb"
	code, stdout, stderr := r.run(t, m, env, binDir+":/usr/bin:/bin")
	checkVerdict(t, r, code, stdout, stderr)

	calls := readDockerCalls(t, logDir)
	var verbs []string
	for _, c := range calls {
		verbs = append(verbs, strings.Join(c.Args[:min(2, len(c.Args))], " "))
	}
	if want := []string{"version", "image inspect", "pull --quiet", "run --rm"}; strings.Join(verbs, ",") != strings.Join(want, ",") {
		t.Fatalf("docker calls %q, want %q", verbs, want)
	}
	if p := calls[2].Args; p[len(p)-1] != compositeImage {
		t.Errorf("pulled %q, want %s (the action's ref)", p, compositeImage)
	}
	run := calls[3].Args
	wantPrefix := []string{"run", "--rm", "--network", "host", "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		"--workdir", r.ws, "-v", r.ws + ":" + r.ws, "-v", r.temp + ":" + r.temp}
	if got := run[:min(len(wantPrefix), len(run))]; strings.Join(got, " ") != strings.Join(wantPrefix, " ") {
		t.Errorf("docker run starts\n%q\nwant\n%q", got, wantPrefix)
	}
	if tail := run[len(run)-2:]; tail[0] != compositeImage || tail[1] != "action" {
		t.Errorf("docker run ends %q, want the image and action", tail)
	}
	passed := map[string]bool{}
	for i := len(wantPrefix); i < len(run)-2; i += 2 {
		if run[i] != "-e" || strings.Contains(run[i+1], "=") {
			t.Fatalf("docker run argument %q %q: want -e NAME (values stay out of the command line)", run[i], run[i+1])
		}
		passed[run[i+1]] = true
	}
	for name := range env {
		if !passed[name] && !strings.HasPrefix(name, "LOADGATE_") {
			t.Errorf("step variable %s not passed to the container", name)
		}
	}
	for name := range r.env {
		if !passed[name] && name != "HOME" {
			t.Errorf("runner variable %s not passed to the container", name)
		}
	}
	for _, name := range []string{"PATH", "HOME", "PWD", "SHLVL", "LOADGATE_VERSION", "LOADGATE_IMAGE", "LOADGATE_RUNTIME"} {
		if passed[name] {
			t.Errorf("%s passed to the container: it describes the runner, not the step", name)
		}
	}
	if !strings.Contains(stdout, "::add-mask::"+compositeToken) {
		t.Error("token not masked")
	}
	if n := len(gh.Comments(2)); n != 1 {
		t.Errorf("%d PR comments, want 1", n)
	}
	if runs := gh.CheckRuns(); len(runs) != 1 || runs[0].HeadSHA == "" {
		t.Errorf("check runs %+v", runs)
	}
}

// TestActionCompositeWithoutHostNetworkFails shows what the test above would
// catch: the same container on a network of its own (a Docker container
// action) cannot reach a service bound to the runner's 127.0.0.1.
func TestActionCompositeWithoutHostNetworkFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needUnshare(t)
	bin := buildStaticBinary(t)
	_, logDir := installFakeDocker(t, bin, nil)
	r := newRunnerLayout(t, compositeRef, "")
	writePlan(t, r.ws)
	env := []string{"TARGET_URL=" + loopbackDemo(t), "INPUT_PLAN=perf/plan.yaml", "INPUT_GITHUB-TOKEN="}
	names := []string{"TARGET_URL", "INPUT_PLAN", "INPUT_GITHUB-TOKEN"}
	for k, v := range r.env {
		env = append(env, k+"="+v)
		names = append(names, k)
	}
	args := []string{"run", "--rm", "--workdir", r.ws, "-v", r.ws + ":" + r.ws, "-v", r.temp + ":" + r.temp}
	for _, n := range names {
		args = append(args, "-e", n)
	}
	code := fakeDocker(logDir, filepath.Join(filepath.Dir(logDir), "image"), append(args, compositeImage, "action"), env)
	// Every request fails to connect: no verdict (3) or an invalid run (4),
	// never a pass.
	out := readOutputs(t, r.files["GITHUB_OUTPUT"])
	if (code != 3 || out["verdict"] != "error") && (code != 4 || out["verdict"] != "invalid") {
		t.Fatalf("exit %d, outputs %v on a network of its own, want no pass", code, out)
	}
	res, err := os.ReadFile(filepath.Join(r.ws, "loadgate-results", "results.json"))
	if err == nil && !strings.Contains(string(res), `"refused"`) {
		t.Errorf("results record no refused connection:\n%.2000s", res)
	}
}

// releaseServer serves a release the way GitHub's release downloads do:
// loadgate_OS_ARCH.tar.gz and checksums.txt under /VERSION/.
func releaseServer(t *testing.T, bin string, corrupt bool) (string, *int) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// Stored, not compressed: gzip of a 39 MB binary under -race takes
	// minutes, and the test is about the checksum, not the ratio.
	gz, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "loadgate", Mode: 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	archive := buf.Bytes()
	sum := sha256.Sum256(archive)
	if corrupt {
		sum[0] ^= 0xff
	}
	checksums := hex.EncodeToString(sum[:]) + "  loadgate_linux_amd64.tar.gz\n" + strings.Repeat("0", 64) + "  loadgate_darwin_arm64.tar.gz\n"
	var mu sync.Mutex
	downloads := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		*downloads++
		mu.Unlock()
		switch req.URL.Path {
		case "/" + compositeRef + "/loadgate_linux_amd64.tar.gz":
			_, _ = w.Write(archive)
		case "/" + compositeRef + "/checksums.txt":
			_, _ = w.Write([]byte(checksums))
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, downloads
}

// TestActionCompositeBinaryFallback: without Docker the step downloads the
// release's binary for the runner's OS/arch, checks it against checksums.txt
// and runs it on the runner.
func TestActionCompositeBinaryFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs load for ~4 s")
	}
	bin := buildStaticBinary(t)
	m := readActionMeta(t)
	for _, corrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("corrupt=%v", corrupt), func(t *testing.T) {
			url, _ := releaseServer(t, bin, corrupt)
			r := newRunnerLayout(t, compositeRef, "")
			r.env["LOADGATE_RELEASES_URL"] = url
			writePlan(t, r.ws)
			env := stepEnv(t, m, map[string]string{"plan": "perf/plan.yaml", "github-token": ""}, "")
			env["TARGET_URL"] = loopbackDemo(t)
			// No docker on PATH: a runner without Docker.
			code, stdout, stderr := r.run(t, m, env, "/usr/bin:/bin")
			if corrupt {
				if code != 3 || !strings.Contains(stdout, "checksum of loadgate_linux_amd64.tar.gz") {
					t.Fatalf("corrupt archive: exit %d\n%s\n%s", code, stdout, stderr)
				}
				if out := readOutputs(t, r.files["GITHUB_OUTPUT"]); len(out) != 0 {
					t.Errorf("outputs %v written by a binary that failed its checksum", out)
				}
				return
			}
			checkVerdict(t, r, code, stdout, stderr)
		})
	}
}

// TestActionCompositeNeedsAPublishedVersion: `uses: ./` or a branch has no
// published image or binary; the step says what to set instead of running
// something else.
func TestActionCompositeNeedsAPublishedVersion(t *testing.T) {
	t.Parallel()
	m := readActionMeta(t)
	for _, ref := range []string{"", "main"} {
		r := newRunnerLayout(t, ref, "")
		env := stepEnv(t, m, nil, "")
		code, stdout, _ := r.run(t, m, env, "/usr/bin:/bin")
		if code != 2 || !strings.Contains(stdout, "::error title=loadgate action::no published loadgate version") {
			t.Errorf("ref %q: exit %d\n%s", ref, code, stdout)
		}
	}
}
