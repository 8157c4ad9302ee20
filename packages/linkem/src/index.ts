/** The link emulator's public surface. */
export { startLinkEmulator, startResolvedEmulator, type DirectionStats, type LinkEmulator, type LinkEmulatorEnv, type PathInfo, type PathStats } from './emulator.js';
export { resolveConfig, readConfigFile, type LinkEmulatorConfig, type PathConfig, type PathProtocol, type ResolvedConfig, type ResolvedPath } from './config.js';
export { parsePathPatch, summarizeOptions, type BurstSpec, type LinkSpec, type ParsedPatch, type PathPatch } from './link-spec.js';
export { parseScript, type ScriptStep } from './script.js';
export { RealtimeLink, DEFAULT_MAX_HELD_BYTES, type LinkMode, type RealtimeDropCause, type RealtimeDropCounts, type RealtimeLinkInit, type RealtimeLinkStats, type UniformRandom } from './realtime-link.js';
export { systemClock, type LinkClock, type TimerHandle } from './clock.js';
export { UdpRelay, type UdpRelayInit, type UdpRelayStats } from './udp-relay.js';
export { TcpRelay, type TcpRelayInit, type TcpRelayStats } from './tcp-relay.js';
export { startControlServer, statsToJson, MAX_CONTROL_BODY_BYTES, type ControlServer } from './control.js';
export { buildProgram, runLinkem, planFromOptions, DEFAULT_CONTROL, type CliIo, type CliPlan } from './cli.js';
export { parseRate, parseDuration, parseByteSize, parseProbability, formatRate } from './units.js';
export { parseHostPort, parsePathEndpoints, formatHostPort, type HostPort, type PathEndpoints } from './address.js';
export { LinkemError, type LinkemErrorCode } from './errors.js';
