package local

// run executes one command: interpreter (default /bin/sh -c) + command, in dir, with
// environment (+ PULUMI_COMMAND_STDOUT/STDERR of the previous run unless
// addPreviousOutputInEnv is false) and stdin; streams lines to the Pulumi log per
// `logging`; a non-zero exit is an error carrying the combined output.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
)

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func run(ctx context.Context, command string, in BaseInputs, out *BaseOutputs) error {
	args := []string{"/bin/sh", "-c"}
	if in.Interpreter != nil && len(*in.Interpreter) > 0 {
		args = append([]string{}, *in.Interpreter...)
	}
	args = append(args, command)

	var mu sync.Mutex
	var stdout, stderr, combined bytes.Buffer
	logR, logW := io.Pipe()
	both := lockedWriter{&mu, &combined}
	logTo := lockedWriter{&mu, logW}
	outW := []io.Writer{&stdout, both}
	if in.Logging.logStdout() {
		outW = append(outW, logTo)
	}
	errW := []io.Writer{&stderr, both}
	if in.Logging.logStderr() {
		errW = append(errW, logTo)
	}

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout = io.MultiWriter(outW...)
	cmd.Stderr = io.MultiWriter(errW...)
	if in.Dir != nil {
		cmd.Dir = *in.Dir
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	if in.Environment != nil {
		for k, v := range *in.Environment {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if in.AddPreviousOutputInEnv == nil || *in.AddPreviousOutputInEnv {
		if out.Stdout != "" {
			cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+out.Stdout)
		}
		if out.Stderr != "" {
			cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDERR="+out.Stderr)
		}
	}
	if in.Stdin != nil && *in.Stdin != "" {
		cmd.Stdin = strings.NewReader(*in.Stdin)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		log := p.GetLogger(ctx)
		sc := bufio.NewScanner(logR)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			log.InfoStatus(sc.Text())
		}
		_, _ = io.Copy(io.Discard, logR)
	}()
	err := cmd.Run()
	_ = logW.Close()
	<-done
	if err != nil {
		return fmt.Errorf("%w: running %q:\n%s", err, command, combined.String())
	}
	if in.AssetPaths != nil || in.ArchivePaths != nil {
		p.GetLogger(ctx).Warning("assetPaths/archivePaths are not supported by slipway's command provider; ignored")
	}
	out.Stdout = strings.TrimSuffix(stdout.String(), "\n")
	out.Stderr = strings.TrimSuffix(stderr.String(), "\n")
	return nil
}
