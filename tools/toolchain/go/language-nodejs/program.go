package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// nodeOptions are the `runtime.options` of Pulumi.yaml that this host honours.
type nodeOptions struct {
	typescript bool     // let @pulumi/pulumi load ts-node (needs ts-node installed)
	tsconfig   string   // PULUMI_NODEJS_TSCONFIG_PATH
	nodeArgs   []string // extra arguments for node, e.g. "--import tsx"
}

func parseOptions(raw map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true}
	for key, value := range raw {
		switch key {
		case "typescript":
			b, ok := value.(bool)
			if !ok {
				return opts, fmt.Errorf("runtime option typescript must be a boolean, got %v", value)
			}
			opts.typescript = b
		case "tsconfig":
			s, ok := value.(string)
			if !ok {
				return opts, fmt.Errorf("runtime option tsconfig must be a string, got %v", value)
			}
			opts.tsconfig = s
		case "nodeargs":
			s, ok := value.(string)
			if !ok {
				return opts, fmt.Errorf("runtime option nodeargs must be a string, got %v", value)
			}
			opts.nodeArgs = strings.Fields(s)
		case "packagemanager":
			// npm is the only package manager this host drives; the option is accepted for compatibility.
		default:
			return opts, fmt.Errorf("unknown nodejs runtime option %q in Pulumi.yaml", key)
		}
	}
	return opts, nil
}

// runArguments is the command line of @pulumi/pulumi's run script.
func runArguments(req *pulumirpc.RunRequest, runScript, engineAddress string) []string {
	args := []string{runScript}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetInfo().GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// legacyConfigKeys rewrites "ns:key" to "ns:config:key", the form every released
// @pulumi/pulumi accepts.
func legacyConfigKeys(config map[string]string) map[string]string {
	out := make(map[string]string, len(config))
	for k, v := range config {
		ns, name, ok := strings.Cut(k, ":")
		if ok && !strings.HasPrefix(name, "config:") {
			k = ns + ":config:" + name
		}
		out[k] = v
	}
	return out
}

// resolveModule finds a module as node would from the program directory.
func resolveModule(node, dir, module string) (string, error) {
	cmd := exec.Command(node, "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("cannot find %s from %s: is the Pulumi SDK installed (npm ci)? %s",
				module, dir, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
