export * from './tunnel-header.js';
export { ConfigError, validate, loadJsonConfig, parseDuration, parseByteSize, type Schema } from './config.js';
export { createLogger, isLogLevel, LOG_LEVELS, type Logger, type LoggerOptions, type LogLevel, type LogFormat, type LogFields } from './logging.js';
export { KeyFileError, writePrivateKeyFile, readPrivateKeyFile, readAuthorizedKeysFile, type KeyFileErrorCode } from './keys.js';
