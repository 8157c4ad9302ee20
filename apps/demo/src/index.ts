export { runDemo, linkRates, type DemoOptions, type DemoSummary } from './demo.js';
export { startTestbed, type Testbed, type TestbedOptions, type TestbedPath } from './testbed.js';
export { startFileServer, type FileServer, type ServedFile } from './file-server.js';
export { socksHttpGet, SocksDownloadError, type DownloadProgress, type DownloadResult } from './socks-http-get.js';
export { PathMeter, type PathSample } from './path-meter.js';
export { ProgressView, type Output, type ProgressFrame } from './progress-view.js';
export { parseSize, formatMiB, formatMbit, bar } from './format.js';
