#!/usr/bin/env node
// mptun-linkem, the userspace link emulator: the build, or the sources in a checkout that has not been built.
import { launch } from '@mptun/tunnel-common/launch';

await launch('mptun-linkem', import.meta.url, 'main');
