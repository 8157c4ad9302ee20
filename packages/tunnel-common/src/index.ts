export * from './tunnel-header.js';
export { ConfigError, validate, loadJsonConfig, readJsonConfig, parseDuration, DURATION_HINT, parseByteSize, type Schema } from './config.js';
export { createLogger, isLogLevel, LOG_LEVELS, type Logger, type LoggerOptions, type LogLevel, type LogFormat, type LogFields } from './logging.js';
export { KeyFileError, writePrivateKeyFile, readPrivateKeyFile, readAuthorizedKeysFile, keyFileModeWarning, privateKeyFileText, runKeygen, type KeyFileErrorCode } from './keys.js';
export { readPackageVersion } from './version.js';
export { EXIT, exitCodeFor, EXIT_CODES_HELP, UsageError } from './exit-codes.js';
export { bridge, type BridgeSide, type BridgeOutcome } from './bridge.js';
