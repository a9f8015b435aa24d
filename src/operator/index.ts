/** Operator domain services: plain functions over the Store. The HTTP routes and the CLI call these. */
export * from './common.ts';
export * from './receive.ts';
export * from './held.ts';
export * from './jobs.ts';
export * from './transfer.ts';
export * from './destruction.ts';
export * from './tasks.ts';
