export * from './alert.js';
export * from './context.js';
export * from './observable.js';
export * from './incident.js';
export * from './enrichment.js';
export * from './score.js';
export * from './decision.js';
export * from './action.js';
