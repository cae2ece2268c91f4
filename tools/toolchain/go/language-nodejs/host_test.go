package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestParseArgs(t *testing.T) {
	got, err := parseArgs([]string{"-tracing", "zipkin:9411", "--runtime=nodejs", "-unknown", "127.0.0.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	if got.engineAddress != "127.0.0.1:1234" || got.runtime != "nodejs" || got.showVersion {
		t.Fatalf("unexpected %+v", got)
	}
	if _, err := parseArgs([]string{"-runtime", "bun", "x"}); err == nil {
		t.Fatal("bun must be refused")
	}
	if _, err := parseArgs([]string{"-tracing"}); err == nil {
		t.Fatal("a flag without its value must be refused")
	}
}

func TestLegacyConfigKeys(t *testing.T) {
	got := legacyConfigKeys(map[string]string{"slipway:images": "{}", "aws:config:region": "x"})
	want := map[string]string{"slipway:config:images": "{}", "aws:config:region": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestRunArguments(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Project: "p", Stack: "s", DryRun: true, Parallel: 4,
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/r", ProgramDirectory: "/r", EntryPoint: "infra/index.ts"},
		Args: []string{"extra"},
	}
	got := runArguments(req, "/run.js", "127.0.0.1:2")
	want := []string{"/run.js", "--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "p",
		"--root-directory", "/r", "--stack", "s", "--pwd", "/r", "--dry-run", "--parallel", "4", "infra/index.ts", "extra"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestParseOptions(t *testing.T) {
	opts, err := parseOptions(map[string]any{"typescript": false, "nodeargs": "--import tsx"})
	if err != nil || opts.typescript || !reflect.DeepEqual(opts.nodeArgs, []string{"--import", "tsx"}) {
		t.Fatalf("got %+v, %v", opts, err)
	}
	if _, err := parseOptions(map[string]any{"typo": true}); err == nil {
		t.Fatal("unknown options must be refused")
	}
}

func TestFindPulumiPackages(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("node_modules/.package-lock.json", "{}")
	write("node_modules/@pulumi/docker/package.json", `{"name":"@pulumi/docker","version":"5.0.0","pulumi":{"resource":true,"name":"docker","version":"5.0.0"}}`)
	write("node_modules/@pulumi/pulumi/package.json", `{"name":"@pulumi/pulumi","version":"3.259.0"}`)
	write("node_modules/left-pad/package.json", `{"name":"left-pad","version":"1.0.0"}`)
	write("node_modules/x/node_modules/@pulumi/random/package.json", `{"name":"@pulumi/random","version":"4.21.1","pulumi":{"resource":true}}`)
	got, err := findPulumiPackages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []pulumiPackage{{name: "docker", version: "v5.0.0"}, {name: "random", version: "v4.21.1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}
