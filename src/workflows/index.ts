/** The workflow bundle's entry: every workflow the worker registers. Deterministic code only. */
export * from './smoke';
export * from './table-migration';
export * from './migration-plan';
