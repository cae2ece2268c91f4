// pulumi-language-nodejs, slipway's own build.
//
// The engine starts one language host per program run and talks to it over gRPC
// (pulumirpc.LanguageRuntime, from the github.com/pulumi/pulumi/sdk/v3 module).
// Upstream's host lives in a nested module that the Go proxy reachable from our
// machines does not serve, so slipway ships this small host instead. It does
// what a Node.js program under `pulumi up`/`preview`/`destroy` needs:
//
//   - GetRequiredPackages: the resource plugins named by node_modules/**/package.json
//     ("pulumi": {"resource": true, ...}), so the engine loads exactly those versions;
//   - Run: `node [nodeargs] <@pulumi/pulumi/cmd/run> --monitor ... <entry point>`,
//     with the stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS;
//   - InstallDependencies: `npm ci` (or `npm install` without a lock file);
//   - GetPluginInfo, About, GetProgramDependencies, Handshake, Cancel.
//
// Everything else answers Unimplemented. See tools/toolchain/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set with -ldflags "-X main.version=..." to the @pulumi/pulumi version it pairs with.
var version = "3.259.0"

func main() {
	args, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-nodejs:", err)
		os.Exit(2)
	}
	if args.showVersion {
		fmt.Println(version)
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()

	if args.engineAddress != "" {
		// Exit when the engine goes away, so no host outlives its `pulumi` process.
		if err := rpcutil.Healthcheck(ctx, args.engineAddress, 5*time.Minute, stop); err != nil {
			fail(fmt.Errorf("could not start health check: %w", err))
		}
	}

	host := newHost(args.engineAddress, args.runtime)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pulumi-language-nodejs:", err)
	os.Exit(1)
}

type cliArgs struct {
	engineAddress string
	runtime       string
	showVersion   bool
}

// parseArgs accepts the flags the engine and tools pass to language hosts
// (-tracing X, -runtime X, -version, -root X, ...) and the engine address as the last
// positional argument. Unknown flags are ignored rather than fatal: a host that
// refuses to start breaks every run, a flag it does not use breaks nothing.
func parseArgs(argv []string) (cliArgs, error) {
	out := cliArgs{runtime: "nodejs"}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			out.engineAddress = a
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "version":
			out.showVersion = true
		case "runtime", "tracing", "root", "binary", "logtostderr", "v":
			if name == "logtostderr" {
				continue
			}
			if !hasValue {
				if i+1 >= len(argv) {
					return out, fmt.Errorf("flag -%s needs a value", name)
				}
				i++
				value = argv[i]
			}
			if name == "runtime" {
				out.runtime = value
			}
		}
	}
	if out.runtime != "nodejs" {
		return out, errors.New("only the nodejs runtime is supported, got " + out.runtime)
	}
	return out, nil
}
