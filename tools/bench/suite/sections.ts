/**
 * The bench suite's sections, in report order. Adding one is an import and an entry here.
 */
import { section as handover } from './handover.js';
import { section as kernel } from './kernel.js';
import { section as latency } from './latency.js';
import type { Section } from './types.js';

export const sections: Section[] = [handover, latency, kernel];
