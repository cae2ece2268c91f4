// The Docker room: connecting to an engine, exec with demuxed output, logs, uploads (tar). Used by the
// rollout engine, the edge and the backup/restore steps alike.
export { connectDocker, ignoreStatus, isStatus } from "./connect";
export { ContainerUnavailableError, execInContainer, execText } from "./exec";
export type { ExecResult } from "./exec";
export { DockerDemux } from "./demux";
export { demuxLogs, tail, containerLogs } from "./logs";
export { firstFileOfTar, readContainerFile, tarFiles, tarOneFile } from "./tar";
export type { TarEntry } from "./tar";
export { checkSecretName, putSecretFiles, resolveIds, secretFileEnv, secretPath, secretsArchive, SECRETS_DIR, SECRETS_PARENT } from "./secret-files";
