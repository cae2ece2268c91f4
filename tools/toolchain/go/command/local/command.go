package local

// Lifecycle of command:local:Command: nothing runs during preview; create runs `create`,
// update runs `update` (or `create` when there is no `update`), delete runs `delete`.

import (
	"context"

	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Command is a local command run as part of the resource lifecycle.
type Command struct{}

// Annotate documents the resource in the schema.
func (c *Command) Annotate(a infer.Annotator) {
	a.Describe(&c, "A local command to be executed as part of the resource lifecycle.")
}

// Create runs `create` (not during preview).
func (*Command) Create(ctx context.Context, req infer.CreateRequest[CommandInputs]) (infer.CreateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs}
	id, err := resource.NewUniqueHex(req.Name, 8, 0)
	if err != nil || req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, err
	}
	err = run(ctx, *req.Inputs.Create, state.BaseInputs, &state.BaseOutputs)
	return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, err
}

// Update runs `update`, or `create` when no `update` is given (not during preview).
func (*Command) Update(ctx context.Context, req infer.UpdateRequest[CommandInputs, CommandOutputs]) (infer.UpdateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs, BaseOutputs: req.State.BaseOutputs}
	cmd := req.Inputs.Create
	if req.Inputs.Update != nil {
		cmd = req.Inputs.Update
	}
	if req.DryRun || cmd == nil {
		return infer.UpdateResponse[CommandOutputs]{Output: state}, nil
	}
	err := run(ctx, *cmd, state.BaseInputs, &state.BaseOutputs)
	return infer.UpdateResponse[CommandOutputs]{Output: state}, err
}

// Delete runs `delete` from the stored state, with the previous output in the environment.
func (*Command) Delete(ctx context.Context, req infer.DeleteRequest[CommandOutputs]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	out := req.State.BaseOutputs
	return infer.DeleteResponse{}, run(ctx, *req.State.Delete, req.State.BaseInputs, &out)
}

// Run is command:local:run: a command executed on every invoke (preview and up).
type Run struct{}

// Annotate documents the function in the schema.
func (r *Run) Annotate(a infer.Annotator) {
	a.Describe(&r, "A local command to be executed unconditionally on every preview and deployment.")
}

// Invoke runs the command.
func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunInputs]) (infer.FunctionResponse[RunOutputs], error) {
	r := RunOutputs{RunInputs: req.Input}
	err := run(ctx, req.Input.Command, r.BaseInputs, &r.BaseOutputs)
	return infer.FunctionResponse[RunOutputs]{Output: r}, err
}
