#!/usr/bin/env node
// mptun-server: the build, or the sources in a checkout that has not been built.
import { launch } from '@mptun/tunnel-common/launch';

await launch('mptun-server', import.meta.url, 'main');
