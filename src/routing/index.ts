/** The routing layer's public surface: what an application and cutover's activities import. */
export { MigratingTable, nextDirectVersion, type MigratingTableOptions } from './migrating-table';
export { FlagStore, type BarrierOptions, type InstanceReport, type InstanceStatus } from './flag-store';
export { FlagWatcher, type FlagSource, type HeartbeatSink } from './flag-watcher';
export { DEFAULT_FLAGS, WRITE_MODES, nextFlags, parseFlags, readMode, readsDynamo, type FlagChange, type ReadMode, type TableFlags, type WriteMode } from './flags';
export { reconcileFromDynamo, currentBinlogSeq, type ReconcileInput, type ReconcileResult } from './reconcile';
export { stepWriteMode, type TransitionDeps, type TransitionResult } from './transitions';
export { drainBackgroundWrites, routingStats, type RoutingStats } from './control';
export { CutoverFlagProvider, OpenFeatureFlagSource, flagKeyOf } from './openfeature';
export { RoutingAppStore } from './app-store';
export { diffResults, type ShadowOptions, type ShadowResult } from './shadow-read';
export type { RoutingMapping } from './mapping';
export * from './errors';
