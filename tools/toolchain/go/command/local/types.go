// Package local declares the input/output shapes of command:local:Command and
// command:local:run with the property names @pulumi/command 1.2.1's SDK sends and reads.
package local

import "github.com/pulumi/pulumi-go-provider/infer"

// Logging says which of the command's streams are echoed to the Pulumi log.
type Logging string

// Values lists the enum's members (schema type command:local:Logging).
func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: "Stdout", Value: "stdout", Description: "Capture stdout in logs but not stderr"},
		{Name: "Stderr", Value: "stderr", Description: "Capture stderr in logs but not stdout"},
		{Name: "StdoutAndStderr", Value: "stdoutAndStderr", Description: "Capture stdout and stderr in logs"},
		{Name: "None", Value: "none", Description: "Capture no logs"},
	}
}

func (l *Logging) logStdout() bool { return l == nil || *l == "stdout" || *l == "stdoutAndStderr" }
func (l *Logging) logStderr() bool { return l == nil || *l == "stderr" || *l == "stdoutAndStderr" }

// BaseInputs are shared by Command and run.
type BaseInputs struct {
	Stdin                  *string            `pulumi:"stdin,optional"`
	Logging                *Logging           `pulumi:"logging,optional"`
	Interpreter            *[]string          `pulumi:"interpreter,optional"`
	Dir                    *string            `pulumi:"dir,optional"`
	Environment            *map[string]string `pulumi:"environment,optional"`
	AssetPaths             *[]string          `pulumi:"assetPaths,optional"`
	ArchivePaths           *[]string          `pulumi:"archivePaths,optional"`
	AddPreviousOutputInEnv *bool              `pulumi:"addPreviousOutputInEnv,optional"`
}

// BaseOutputs are what a run produces.
type BaseOutputs struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// ResourceInputs are Command's lifecycle commands; a change of triggers replaces the resource.
type ResourceInputs struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

// CommandInputs are command:local:Command's inputs.
type CommandInputs struct {
	ResourceInputs
	BaseInputs
}

// CommandOutputs echo the inputs next to stdout/stderr (diff and delete read them back).
type CommandOutputs struct {
	CommandInputs
	BaseOutputs
}

// RunInputs are command:local:run's arguments.
type RunInputs struct {
	BaseInputs
	Command string `pulumi:"command"`
}

// RunOutputs are command:local:run's result.
type RunOutputs struct {
	RunInputs
	BaseOutputs
}
