/**
 * Scripted events for a path: "10s down; 12s up; 20s rate=5mbit delay=40ms".
 *
 * Steps are separated by ";" or newlines. Each starts with a time since the emulator
 * started ("10s", "1.5min", "500ms") or since the previous step ("+2s"), followed by any of:
 *   down | up                       take the path down / bring it back
 *   KEY=VALUE                       a setting for both directions (rate, delay, loss, …)
 *   up-KEY=VALUE | down-KEY=VALUE   a setting for one direction
 *   profile=NAME                    a preset (also up-profile=, down-profile=)
 * Settings of a step are applied before its down/up.
 */
import { LinkemError } from './errors.js';
import { PatchBuilder, type Direction, type ParsedPatch } from './link-spec.js';
import { parseDuration } from './units.js';

export interface ScriptStep {
  /** Milliseconds after the emulator started. */
  readonly atMs: number;
  /** Settings to apply, or null when the step only changes the state. */
  readonly patch: ParsedPatch | null;
  readonly state: 'down' | 'up' | null;
  /** The step as written, for logs. */
  readonly text: string;
}

/** Parse a script; `where` names its source (a flag or config key) in errors. */
export function parseScript(input: string | readonly string[], where: string): ScriptStep[] {
  const text = typeof input === 'string' ? input : input.join(';');
  const steps: ScriptStep[] = [];
  let previous = 0;
  const chunks = text
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  chunks.forEach((stepText, i) => {
    const stepWhere = `${where} step ${i + 1} (${JSON.stringify(stepText)})`;
    const [timeToken, ...actions] = stepText.split(/\s+/);
    const relative = timeToken!.startsWith('+');
    const offset = parseDuration(relative ? timeToken!.slice(1) : timeToken!, `${stepWhere} time`, true);
    const atMs = relative ? previous + offset : offset;
    if (atMs < previous) {
      throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${stepWhere}: steps must be in time order (this one is before the previous step)`);
    }
    if (actions.length === 0) {
      throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${stepWhere}: expected down, up or KEY=VALUE after the time`);
    }
    let state: 'down' | 'up' | null = null;
    const builder = new PatchBuilder();
    for (const action of actions) {
      const lower = action.toLowerCase();
      if (lower === 'down' || lower === 'up') {
        if (state !== null) throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${stepWhere}: give at most one of down / up per step`);
        state = lower;
        continue;
      }
      const eq = action.indexOf('=');
      if (eq <= 0) {
        throw new LinkemError('ERR_LINKEM_BAD_OPTION', `${stepWhere}: expected down, up or KEY=VALUE, got ${JSON.stringify(action)}`);
      }
      const { dir, key } = splitDirection(action.slice(0, eq).toLowerCase());
      const value = action.slice(eq + 1);
      const keyWhere = `${stepWhere} ${action.slice(0, eq)}`;
      if (key === 'profile') builder.profile(dir, value, keyWhere);
      else builder.set(dir, key, value, keyWhere);
    }
    steps.push({ atMs, patch: builder.empty ? null : builder.build(stepWhere), state, text: stepText });
    previous = atMs;
  });
  return steps;
}

function splitDirection(key: string): { dir: Direction | 'both'; key: string } {
  if (key.startsWith('up-')) return { dir: 'up', key: key.slice(3) };
  if (key.startsWith('down-')) return { dir: 'down', key: key.slice(5) };
  return { dir: 'both', key };
}
