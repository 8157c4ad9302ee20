/** The version an app reports (`--version`, status page): its package.json's. */
import { readFileSync } from 'node:fs';

/**
 * The version in the package.json one directory above `moduleUrl` (an app's src/ or dist/
 * file). "unknown" when it cannot be read, so a broken install still starts.
 */
export function readPackageVersion(moduleUrl: string): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
