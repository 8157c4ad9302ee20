export * from './random.js';
export * from './driveable.js';
export * from './wire/error.js';
export * from './wire/tcp-option.js';
export * from './wire/tcp-segment.js';
export * from './wire/mptcp/option.js';
export * from './cc/controller.js';
export * from './sched/scheduler.js';
