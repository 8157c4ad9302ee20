export { checkLocalRequest, hostAllowed, hostOfAuthority, isLoopbackName, type GuardRefusal } from './host-guard.js';
export { createAppRegistry, MetricsListenError, packageVersion, startMetricsEndpoint, type EndpointActions, type MetricsEndpoint } from './metrics-endpoint.js';
export { byLabel, counterOf, gaugeOf, type Series } from './read-at-scrape.js';
export type { Registry } from 'prom-client';
export { registerSubflowMetrics, SubflowCounters, type CountedConnection, type SubflowFigures, type SubflowSample } from './subflow-metrics.js';
