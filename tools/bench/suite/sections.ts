/**
 * The bench suite's sections, in report order. Adding one is an import and an entry here.
 */
import { section as aggregation } from './aggregation.js';
import { section as cpu } from './cpu.js';
import { section as engine } from './engine-sim.js';
import { section as handover } from './handover.js';
import { section as ifaceDown } from './iface-down.js';
import { section as kernel } from './kernel.js';
import { section as latency } from './latency.js';
import { section as micro } from './micro.js';
import { section as rttRatio } from './rtt-ratio.js';
import { section as scale } from './scale.js';
import { section as schedulers } from './schedulers.js';
import { section as testbed } from './testbed.js';
import type { Section } from './types.js';

export const sections: Section[] = [aggregation, rttRatio, handover, latency, cpu, scale, kernel, ifaceDown, testbed, engine, schedulers, micro];
