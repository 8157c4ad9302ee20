export { startClient, wsEndpoint, DEFAULT_SOCKS, DEFAULT_WS_PATH, type RunningClient, type StartClientExtras } from './client-app.js';
export { loadClientConfig, validateClientConfig, clientConfigSchema, clientTransports, type ClientConfig, type ClientTransport } from './config.js';
export { startSocksServer, type SocksServer, type SocksServerOptions } from './socks-server.js';
export * from './socks5.js';
export { parseForward, startForward, type ForwardSpec, type RunningForward } from './forward.js';
export { openTunnel, splice, type TunnelOpener, type TunnelResult } from './tunnel.js';
export { resolvePathAddress } from './paths.js';
export { raceTransport, raceTransports, type RaceOptions, type RaceResult } from './transport-race.js';
export { buildProgram } from './cli.js';
