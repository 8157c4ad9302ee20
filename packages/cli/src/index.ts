export * from './tunnel-header.js';
