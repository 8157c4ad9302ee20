export { startServer, type RunningServer, type StartOptions } from './server.js';
export { loadServerConfig, parseListenUrl, parseMetricsAddress, defaultLimits, type ServerConfig, type ServerLimits, type ListenAddress, type ServerOverrides } from './config.js';
export { TargetPolicy, parseAllowRule, PolicyRuleError, type AllowRule, type Lookup, type PolicyDecision } from './policy.js';
export { statusForConnectError } from './relay.js';
export { registerServerMetrics, type ServerStats } from './stats.js';
