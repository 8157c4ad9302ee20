export { checkLocalRequest, hostAllowed, hostOfAuthority, isLoopbackName, type GuardRefusal } from './host-guard.js';
export { createAppRegistry, MetricsListenError, packageVersion, startMetricsEndpoint, type MetricsEndpoint } from './metrics-endpoint.js';
export { Counter, Gauge, Registry } from 'prom-client';
export { registerSubflowMetrics, SubflowCounters, type CountedConnection, type SubflowFigures, type SubflowSample } from './subflow-metrics.js';
