export { StatusTracker, type TrackedClient, type TrackedSocket, type TrackerOptions } from './tracker.js';
export { startStatusServer, isLoopbackHost, DEFAULT_STATUS_PORT, type StatusServerOptions, type RunningStatusServer } from './server.js';
export { runStatusView, addStatusCommand, fetchStatus, StatusFetchError, DEFAULT_STATUS_URL, type StatusViewOptions } from './tui.js';
export { renderStatusTable, formatBitRate, formatBytes, formatRtt, formatLoss, formatAge } from './status-table.js';
export { dashboardHtml } from './dashboard.js';
export type { StatusSnapshot, StatusHistory, PathStatus, ConnectionStatus, PathSeries } from './types.js';
