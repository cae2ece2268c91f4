// The words every room of slipway shares: labels and roles, database roles, names and the revision hash, waiting, log
// rotation, the shape of an operator verb, the API image's readiness probe, and a provider process that exits when its `pulumi` is gone.
// It imports no other room of src/ (only the stack schema's types), so edge, rollout, backup, restore, infra
// and the tests can all depend on it without an arrow back.
export * from "./labels";
export * from "./logs";
export * from "./naming";
export * from "./wait";
export * from "./database";
export * from "./orphan";
export * from "./verbs";
export * from "./probe";
